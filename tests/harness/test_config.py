"""The config in conf/ and sweeps/, composed by the real Hydra: defaults, groups, names, hashes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hydra.core.global_hydra import GlobalHydra

from engine.nn import INITS, MLP
from engine.optim import OPTIMIZERS
from harness.checks import sweep_plan
from harness.checks.preflight import check_command_line
from harness.checks.schema import CONF_DIR, SWEEPS_DIR, config_hash, resolved, run_params, task_config
from harness.training.loop import batched_optimizer
from harness.training.targets import TARGETS, seed_target


def params_of(cfg):
    return run_params(resolved(cfg), cfg.hydra.runtime.choices)


def test_default_config_is_the_seed_experiment(compose_config):
    task = resolved(compose_config())
    assert task["optimizer"]["_target_"] == "engine.optim.SeedAdamW"
    assert task["init"]["name"] == "seed"
    assert task["target"]["name"] == "seed"
    assert (task["lr"], task["weight_decay"], task["betas"]) == (1e-3, 1e-3, [0.9, 0.9])
    assert (task["width"], task["depth"], task["negative_slope"]) == (64, 2, 0.1)
    assert (task["steps"], task["batch_size"]) == (3000, 1)
    assert (task["experiment"], task["resume"], task["report"]) == ("autograd-mlp", False, True)


def test_seed_target_is_the_posts_formula():
    x = 0.3
    assert seed_target(x) == pytest.approx(2.777 * x * x + 0.123 - 1.5 * x**3 + math.sin(4 * x))


@pytest.mark.parametrize(("group", "names"), [("init", set(INITS)), ("target", set(TARGETS))])
def test_every_named_group_option_is_a_name_the_code_knows(compose_config, group, names):
    options = {path.stem for path in (CONF_DIR / group).glob("*.yaml")}
    assert options == names
    for option in options:
        assert getattr(task_config(compose_config(f"{group}={option}")), group).name == option


def test_every_optimizer_option_builds_its_class_from_the_values_it_takes(compose_config):
    options = {path.stem for path in (CONF_DIR / "optimizer").glob("*.yaml")}
    assert options == set(OPTIMIZERS)
    for option in options:
        task = task_config(compose_config(f"optimizer={option}", "lr=0.5", "weight_decay=0.25"))
        built = batched_optimizer([task], MLP.stacked(1, [3], 1, [0]).parameters())
        assert type(built) is OPTIMIZERS[option]
        assert (np.ravel(built.lr).tolist(), np.ravel(built.weight_decay).tolist()) == ([0.5], [0.25])


def test_top_level_keys_take_values_as_typed(compose_config):
    task = task_config(
        compose_config(
            "lr=1e-2",
            "width=32",
            "depth=3",
            "steps=10",
            "batch_size=4",
            "seed=7",
            "weight_decay=0",
            "betas=[0.9,0.999]",
            "optimizer=adam",
            "init=kaiming",
            "target=sine",
        )
    )
    assert (task.lr, task.width, task.depth, task.steps, task.batch_size, task.seed) == (
        0.01,
        32,
        3,
        10,
        4,
        7,
    )
    assert task.betas == [0.9, 0.999] and task.weight_decay == 0.0
    assert (task.optimizer["_target_"], task.init.name, task.target.name) == (
        "engine.optim.Adam",
        "kaiming",
        "sine",
    )


def test_the_issues_sweep_line_expands_to_48_jobs_as_hydra_would():
    line = ["lr=1e-3,1e-2", "width=32,64", "betas=[0.9,0.9],[0.9,0.999]", "weight_decay=0,1e-3", "seed=0,1,2"]
    assert check_command_line(["-m", *line]) == 48
    jobs = sweep_plan.expand_jobs(line)
    assert len(jobs) == 48 and len({tuple(job) for job in jobs}) == 48
    assert jobs[0] == ["lr=0.001", "width=32", "betas=[0.9,0.9]", "weight_decay=0", "seed=0"]
    assert sweep_plan.swept_keys(line) == ["lr", "width", "betas", "weight_decay", "seed"]


@pytest.mark.parametrize(
    ("sweep", "jobs", "keys"),
    [
        ("lr_width", 20, ["lr", "width"]),
        ("betas", 10, ["betas", "optimizer"]),
        ("weight_decay", 15, ["weight_decay", "seed"]),
        ("optimizers", 12, ["optimizer", "seed"]),
    ],
)
def test_named_sweeps_expand_to_their_grids(sweep, jobs, keys):
    assert (SWEEPS_DIR / f"{sweep}.yaml").exists()
    assert check_command_line(["-m", f"sweeps={sweep}"]) == jobs
    assert check_command_line(["-m", f"sweeps={sweep}", "seed=0"]) == jobs // (3 if "seed" in keys else 1)


def test_params_name_each_group_by_its_option_and_every_value_once(compose_config):
    params = params_of(compose_config("optimizer=sgd"))
    assert (params["optimizer"], params["init"], params["target"]) == ("sgd", "seed", "seed")
    assert params["optimizer.momentum"] == 0.0
    assert {"lr", "weight_decay", "width", "depth", "steps", "batch_size", "seed"} <= set(params)
    assert not {"optimizer.lr", "optimizer._target_", "optimizer._partial_", "init.name"} & set(params)
    assert not any(isinstance(value, dict) for value in params.values())


def test_config_hash_ignores_bookkeeping_keys_only(compose_config):
    base = config_hash(resolved(compose_config()))
    assert len(base) == 16 and set(base) <= set("0123456789abcdef")
    for bookkeeping in ("experiment=elsewhere", "resume=true", "report=false"):
        assert config_hash(resolved(compose_config(bookkeeping))) == base
    for change in ("lr=0.01", "optimizer=adam", "seed=1", "betas=[0.9,0.999]"):
        assert config_hash(resolved(compose_config(change))) != base


@pytest.mark.parametrize(
    ("keys", "overrides", "name"),
    [
        (["lr", "width", "seed"], ["lr=1e-3", "width=64", "seed=0"], "lr=0.001 width=64 seed=0"),
        (
            ["optimizer", "betas"],
            ["optimizer=adam", "betas=[0.9,0.999]"],
            "optimizer=adam betas=[0.9, 0.999]",
        ),
        ([], [], "default"),
    ],
)
def test_run_name_shows_the_swept_values_as_resolved(compose_config, keys, overrides, name):
    assert sweep_plan.run_name(params_of(compose_config(*overrides)), keys) == name


def test_a_single_runs_name_comes_from_its_task_overrides_only():
    overrides = ["lr=0.1", "hydra.run.dir=x", "+sweeps=betas", "steps=5", "report=false", "experiment=e"]
    assert sweep_plan.set_keys(overrides) == ["lr", "steps"]


def test_composing_leaves_hydra_uninitialized(compose_config):
    compose_config()
    assert not GlobalHydra.instance().is_initialized()
