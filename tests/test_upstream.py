"""The private APIs of Hydra, MLflow and Optuna the harness wraps (harness.upstream) still do what the
harness needs: an upgrade that moves or changes one fails here, by name, not somewhere in a sweep."""

from __future__ import annotations

import itertools

import mlflow
import optuna
import pytest
from optuna.distributions import CategoricalDistribution

from harness.upstream import fluent_tracking_uri, hydra_args_parser, walk_grid_in_given_order


def test_hydras_parser_reads_the_flags_the_preflight_reads():
    args = hydra_args_parser().parse_args(["-m", "--config-name", "other", "lr=0.1", "seed=1,2"])
    assert args.multirun and args.config_name == "other" and args.overrides == ["lr=0.1", "seed=1,2"]
    assert args.config_dir is None
    for flag in ("help", "hydra_help", "cfg", "info", "shell_completion", "resolve"):  # preflight._INFO_FLAGS
        assert not getattr(args, flag)
    assert hydra_args_parser().parse_args(["--cfg", "job"]).cfg == "job"
    assert hydra_args_parser().parse_args(["--info"]).info


def test_the_fluent_tracking_uri_is_set_for_the_block_and_unset_after(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with fluent_tracking_uri(uri):
        assert mlflow.get_tracking_uri() == uri
    assert not mlflow.tracking.is_tracking_uri_set()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/later.db")
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path}/later.db"  # the environment still rules


def test_the_fluent_tracking_uri_puts_back_the_environments(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/before.db")
    with fluent_tracking_uri(f"sqlite:///{tmp_path}/block.db"):
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path}/block.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/later.db")
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path}/later.db"  # not stuck on the block's


@pytest.mark.parametrize("seed", [None, 0, 7])
def test_the_grid_sampler_walks_the_product_in_the_order_given(seed):
    space = {"width": [16, 8], "act": ["relu", "tanh", "sin"]}  # neither keys nor values sorted
    sampler = optuna.samplers.GridSampler(space, seed)
    walk_grid_in_given_order(sampler, space)
    study = optuna.create_study(sampler=sampler)
    distributions = {key: CategoricalDistribution(values) for key, values in space.items()}
    asked = [study.ask(distributions).params for _ in range(6)]
    assert asked == [dict(zip(space, point, strict=True)) for point in itertools.product(*space.values())]
