"""The search space read from Hydra's override grammar, as Hydra's Optuna sweeper spells it."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from harness.search.samplers import OrderedGridSampler
from harness.search.space import SearchSpaceError, parse_space

MAPPING = [
    ("lr=tag(log,interval(1e-4,1e-1))", FloatDistribution(1e-4, 1e-1, log=True)),
    ("lr=interval(0.1,0.5)", FloatDistribution(0.1, 0.5)),
    ("width=int(interval(16,128))", IntDistribution(16, 128)),
    ("width=tag(log,int(interval(16,128)))", IntDistribution(16, 128, log=True)),
    ("width=choice(16,32,64,128)", CategoricalDistribution([16, 32, 64, 128])),
    ("width=16,32,64", CategoricalDistribution([16, 32, 64])),
    ("optimizer=choice(adam,sgd)", CategoricalDistribution(["adam", "sgd"])),
    ("resume=choice(true,false)", CategoricalDistribution([True, False])),
    ("steps=range(500,3001,500)", IntDistribution(500, 3000, step=500)),  # the stop is excluded, as in Hydra
    ("steps=range(1,4)", IntDistribution(1, 3)),
    ("x=range(0.5,5.5,step=1)", FloatDistribution(0.5, 4.5, step=1.0)),
    ("x=shuffle(range(1,3))", CategoricalDistribution([1, 2])),
    ("betas=choice([0.9,0.9],[0.9,0.999])", CategoricalDistribution(["[0.9,0.9]", "[0.9,0.999]"])),
]


@pytest.mark.parametrize(("override", "expected"), MAPPING)
def test_each_sweep_spelling_maps_to_its_optuna_distribution(override, expected):
    (dimension,) = parse_space([override]).dimensions
    if isinstance(expected, CategoricalDistribution) and override.startswith("x=shuffle"):
        assert set(dimension.distribution.choices) == set(expected.choices)
    else:
        assert dimension.distribution == expected


def test_a_trial_gets_overrides_hydra_reads_back_to_the_same_values():
    space = parse_space(
        ["+a=choice([0.9,0.9],[0.9,0.99])", "lr=tag(log,interval(1e-4,1e-1))", "seed=3", "~z"]
    )
    assert space.keys == ["+a", "lr"]
    assert space.fixed == ["seed=3", "~z"]
    params = {"+a": "[0.9,0.99]", "lr": 0.00123}
    assert space.overrides(params) == ["+a=[0.9,0.99]", "lr=0.00123", "seed=3", "~z"]


def test_a_later_override_of_a_key_wins_as_in_hydra():
    space = parse_space(["lr=choice(1,2)", "width=8", "lr=0.5", "width=choice(8,16)"])
    assert space.keys == ["width"]
    assert space.fixed == ["lr=0.5"]


def test_the_grid_runs_in_the_basic_sweepers_order():
    space = parse_space(["group1=file1,file2", "bar=100,200,300"])
    expected = [{"group1": g, "bar": b} for g in ("file1", "file2") for b in (100, 200, 300)]
    assert space.grid() == expected
    sampler = OrderedGridSampler({d.key: d.grid_values() for d in space.dimensions})
    study = optuna.create_study(sampler=sampler)
    assert [study.ask(space.distributions).params for _ in expected] == expected


def test_a_grid_of_integers_and_stepped_floats_lists_every_value():
    space = parse_space(["width=int(interval(1,3))", "x=range(0.5,2.0,step=0.5)"])
    assert [d.grid_values() for d in space.dimensions] == [[1, 2, 3], [0.5, 1.0, 1.5]]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("lr=tag(log,interval(0,1))", "lr=tag(log,interval(0,1)):"),
        ("lr=interval(1,0.1)", "lr=interval(1,0.1):"),
        ("lr=tag(sqrt,interval(0.1,1))", "lr=tag(sqrt,interval(0.1,1)): unknown tag ['sqrt']"),
        ("width=range(5,1)", "width=range(5,1): the range is empty"),
        ("lr=choice(1,1)", "lr=choice(1,1): a value is listed twice"),
        ("lr=interval(1", "no viable alternative at input 'interval(1'"),
    ],
)
def test_a_space_optuna_cannot_search_is_one_line_naming_the_override(override, message):
    with pytest.raises(SearchSpaceError) as refused:
        parse_space([override])
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_a_grid_over_a_continuous_interval_is_refused():
    (dimension,) = parse_space(["lr=interval(0.1,1)"]).dimensions
    with pytest.raises(SearchSpaceError, match="a grid needs discrete values"):
        dimension.grid_values()


def test_the_sweepers_grid_sampler_config_names_the_grid_sampler():
    from hydra.utils import get_class

    from harness.search.samplers import GRID_TARGET
    from hydra_plugins.harness_optuna_sweeper.config import GridSamplerConf

    assert GridSamplerConf._target_ == GRID_TARGET
    assert get_class(GRID_TARGET) is OrderedGridSampler


def test_the_sweeper_target_the_checks_and_jobs_compare_names_the_optuna_sweeper():
    from hydra.utils import get_class

    from harness.search.names import SWEEPER_TARGET
    from hydra_plugins.harness_optuna_sweeper.config import OptunaSweeperConf
    from hydra_plugins.harness_optuna_sweeper.sweeper import OptunaSweeper

    assert OptunaSweeperConf._target_ == SWEEPER_TARGET
    assert get_class(SWEEPER_TARGET) is OptunaSweeper
