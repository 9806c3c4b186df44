"""The runs axis: R networks in one model equal R one-at-a-time runs, bit for bit, whatever each run's
seed and hyperparameters; a run left out of a step (`active`) keeps its parameters and state exactly."""

import numpy as np
import pytest

from engine import Constant, Mean, Square
from engine.nn import MLP
from engine.optim import OPTIMIZERS, SGD, SeedAdamW

SEEDS = [0, 1, 2, 3]
# Per optimizer: each run's own hyperparameters (different lr, betas, weight decay) and the init.
SETTINGS = {
    "seed_adamw": (
        "seed",
        [
            dict(lr=1e-3, betas=(0.9, 0.9), weight_decay=1e-3),
            dict(lr=3e-3, betas=(0.8, 0.8), weight_decay=0.0),
            dict(lr=1e-3, betas=(0.95, 0.95), weight_decay=1e-2),
            dict(lr=5e-4, betas=(0.9, 0.9), weight_decay=1e-4),
        ],
    ),
    "adamw": (
        "kaiming",
        [
            dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0),
            dict(lr=3e-3, betas=(0.8, 0.99), weight_decay=1e-3),
            dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=0.1),
            dict(lr=5e-4, betas=(0.5, 0.999), weight_decay=1e-4),
        ],
    ),
    "adam": (
        "kaiming",
        [
            dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0),
            dict(lr=3e-3, betas=(0.8, 0.99), weight_decay=1e-3),
            dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=0.0),
            dict(lr=5e-4, betas=(0.5, 0.999), weight_decay=1e-4),
        ],
    ),
    "sgd": (
        "kaiming",
        [
            dict(lr=1e-2, momentum=0.0, weight_decay=0.0),
            dict(lr=3e-3, momentum=0.9, weight_decay=1e-3),
            dict(lr=3e-2, momentum=0.5, weight_decay=0.0),
            dict(lr=5e-3, momentum=0.0, weight_decay=1e-4),
        ],
    ),
}


def target(x):
    return x * x * 2.777 + 0.123 - x * x * x * 1.5 + np.sin(x * 4.0)


def per_run(settings):
    """The runs' hyperparameters as the optimizer takes them: one array per name, betas a pair of arrays."""
    stacked = {name: np.array([s[name] for s in settings]) for name in settings[0]}
    if "betas" in stacked:
        stacked["betas"] = (stacked["betas"][:, 0], stacked["betas"][:, 1])
    return stacked


def single_run(seed, optimizer, settings, init, steps, batch=1, width=64):
    """The seed experiment's loop, one network: parameters then inputs drawn from one Generator."""
    rng = np.random.default_rng(seed)
    model = MLP(1, [width, width], 1, negative_slope=0.1, init=init, rng=rng)
    opt = OPTIMIZERS[optimizer](model.parameters(), **settings)
    losses = []
    for x in rng.uniform(-1.0, 1.0, (steps, batch, 1)):
        loss = Mean(Square(model(x) - Constant(target(x))))
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return np.array(losses), model, opt


def stacked_runs(seeds, optimizer, settings, init, steps, batch=1, width=64, stop_above=None):
    """The same runs as one model. With `stop_above`, a run whose loss is not below it is left out of
    that step and every later one (its losses from then on are NaN)."""
    rngs = [np.random.default_rng(seed) for seed in seeds]
    model = MLP.stacked(1, [width, width], 1, rngs, negative_slope=0.1, init=init)
    opt = OPTIMIZERS[optimizer](model.parameters(), **per_run(settings))
    xs = np.stack([rng.uniform(-1.0, 1.0, (steps, batch, 1)) for rng in rngs], axis=1)
    active = np.ones(len(seeds), dtype=bool)
    stopped_at = np.full(len(seeds), -1)
    losses = []
    with np.errstate(all="ignore"):
        for step, x in enumerate(xs):
            loss = Mean(Square(model(x) - Constant(target(x))), axis=(1, 2))
            if stop_above is not None:
                diverged = active & ~(loss.values < stop_above)
                stopped_at[diverged], active = step, active & ~diverged
            losses.append(np.where(active, loss.values, np.nan))
            loss.backward(np.ones(len(seeds)))
            opt.step(active if stop_above is not None else None)
    return np.array(losses), model, opt, stopped_at


def assert_same_run(single, stacked, run):
    (losses, model, opt), (stacked_losses, stacked_model, stacked_opt) = single, stacked
    np.testing.assert_array_equal(stacked_losses[: len(losses), run], losses)
    for name, values in stacked_model.run_parameters(run).items():
        np.testing.assert_array_equal(values, dict(model.named_parameters())[name].values, err_msg=name)
    if isinstance(opt, SGD) and opt.momentum == 0:
        return  # a single run without momentum keeps no velocity; its stacked slot holds the last step
    for array, stacked_array in zip(opt.state(), stacked_opt.state(), strict=True):
        np.testing.assert_array_equal(stacked_array[run], array[0])


@pytest.mark.parametrize("optimizer", sorted(SETTINGS))
def test_runs_with_their_own_seeds_and_hyperparameters_equal_single_runs_bit_for_bit(optimizer):
    init, settings = SETTINGS[optimizer]
    losses, model, opt, _ = stacked_runs(SEEDS, optimizer, settings, init, steps=300)
    assert np.all(np.isfinite(losses)) and len(set(losses[-1].tolist())) == len(SEEDS)
    for run, (seed, setting) in enumerate(zip(SEEDS, settings, strict=True)):
        assert_same_run(single_run(seed, optimizer, setting, init, steps=300), (losses, model, opt), run)


def test_runs_equal_single_runs_with_batches_of_four():
    init, settings = SETTINGS["adamw"]
    losses, model, opt, _ = stacked_runs(SEEDS[:2], "adamw", settings[:2], init, steps=100, batch=4, width=16)
    for run in range(2):
        single = single_run(SEEDS[run], "adamw", settings[run], init, steps=100, batch=4, width=16)
        assert_same_run(single, (losses, model, opt), run)


@pytest.fixture(scope="module")
def seed_experiment_runs():  # ~10 s
    """The seed's experiment (3000 steps of batch 1, SeedAdamW, the seed's init), four seeds."""
    init, settings = SETTINGS["seed_adamw"]
    stacked = stacked_runs(SEEDS, "seed_adamw", settings, init, steps=3000)[:3]
    singles = [single_run(s, "seed_adamw", c, init, steps=3000) for s, c in zip(SEEDS, settings, strict=True)]
    return stacked, singles


def test_the_seed_experiment_as_four_runs_equals_four_single_runs_over_3000_steps(seed_experiment_runs):
    stacked, singles = seed_experiment_runs
    for run, single in enumerate(singles):
        assert_same_run(single, stacked, run)
    assert np.all(stacked[0][-100:].mean(axis=0) < 1.0)  # and they learn


@pytest.mark.parametrize("optimizer", sorted(SETTINGS))
def test_a_diverging_run_stops_and_the_others_go_on_bit_for_bit(optimizer):
    init, settings = SETTINGS[optimizer]
    settings = list(settings[:3])
    settings[1] = {**settings[1], "lr": 1e3}  # this run diverges within a few steps
    losses, model, opt, stopped_at = stacked_runs(
        SEEDS[:3], optimizer, settings, init, steps=60, stop_above=1e9
    )
    assert stopped_at.tolist()[0] == -1 and stopped_at.tolist()[2] == -1 and 0 < stopped_at[1] < 60
    for run in (0, 2):
        assert_same_run(
            single_run(SEEDS[run], optimizer, settings[run], init, steps=60), (losses, model, opt), run
        )
    # The diverged run's parameters and state are those of its single run up to the step where its
    # loss passed the bound: that step and every later one left them alone.
    with np.errstate(all="ignore"):
        single = single_run(SEEDS[1], optimizer, settings[1], init, steps=int(stopped_at[1]))
    assert np.all(losses[: stopped_at[1], 1] < 1e9) and np.all(np.isnan(losses[stopped_at[1] :, 1]))
    assert_same_run(single, (losses, model, opt), 1)


def test_a_step_with_every_run_left_out_changes_nothing():
    model = MLP.stacked(1, [4], 1, rngs=[0, 1])
    opt = SeedAdamW(model.parameters(), lr=[1e-2, 1e-3], betas=(0.9, 0.9), weight_decay=1e-3)
    Mean(Square(model(np.ones((2, 3, 1)))), axis=(1, 2)).backward(np.ones(2))
    before = [array.copy() for array in [model.buffer.values, *opt.state()]]
    opt.step(active=[False, False])
    for array, saved in zip([model.buffer.values, *opt.state()], before, strict=True):
        np.testing.assert_array_equal(array, saved)
    opt.step(active=[True, False])
    assert not np.array_equal(model.buffer.values[0], before[0][0])
    np.testing.assert_array_equal(model.buffer.values[1], before[0][1])


def test_stacked_model_layout_and_its_errors():
    rngs = [np.random.default_rng(5), np.random.default_rng(6)]
    model = MLP.stacked(2, [3], 1, rngs)
    assert model.runs == 2 and model.buffer.values.shape == (2, 3 * 2 + 3 + 3 + 1)
    assert [(n, p.shape) for n, p in model.named_parameters()] == [
        ("layers.0.weight", (2, 3, 2)),
        ("layers.0.bias", (2, 1, 3)),
        ("layers.1.weight", (2, 1, 3)),
        ("layers.1.bias", (2, 1, 1)),
    ]
    # Each Generator is left where a single MLP leaves it: the next draw is the same.
    reference = np.random.default_rng(6)
    MLP(2, [3], 1, rng=reference)
    assert rngs[1].random() == reference.random()
    assert model(np.zeros((2, 5, 2))).shape == (2, 5, 1)
    with pytest.raises(ValueError, match=r"MLP with 2 runs: input must be \[runs, batch, in\]"):
        model(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"SGD: lr must be .*one number or one per run \(2\)"):
        SGD(model.parameters(), lr=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"step\(active\): need one bool per run"):
        SGD(model.parameters(), lr=0.1).step(active=[True])
    with pytest.raises(ValueError, match="rngs must hold one seed or Generator per run"):
        MLP.stacked(1, [3], 1, rngs=[])
