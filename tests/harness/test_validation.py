"""Bad input is refused before anything runs: one line naming the key and what is allowed."""

from __future__ import annotations

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode

from harness.checks.preflight import PlainNumbers, check_command_line, typed_unresolved
from harness.checks.schema import CONF_DIR, resolved
from harness.checks.validation import ConfigError

BAD_INPUT = [
    (["lr=-1"], "lr=-1 is not allowed: lr must be a number > 0"),
    (["lr=abc"], "lr=abc is not allowed: lr must be a number > 0"),
    (["width=0"], "width=0 is not allowed: width must be an integer >= 1"),
    (["depth=0"], "depth=0 is not allowed: depth must be an integer >= 1"),
    (["steps=0"], "steps=0 is not allowed: steps must be an integer >= 1"),
    (["batch_size=-3"], "batch_size=-3 is not allowed: batch_size must be an integer >= 1"),
    (["betas=[1.5,0.9]"], "betas=[1.5,0.9] is not allowed: betas must be two numbers in [0, 1)"),
    (
        ["optimizer=nope"],
        "optimizer=nope is not allowed: no optimizer named 'nope'; "
        "optimizer must be one of adam, adamw, seed_adamw, sgd",
    ),
    (["foo=1"], "foo=1 is not allowed: no such key; the keys are batch_size, betas,"),
]

MORE_BAD_INPUT = [
    (["+foo=1"], "foo=1 is not allowed: no such key"),
    (["~lr"], "lr is required"),
    (["lr=inf"], "lr=inf is not allowed"),
    (["width=1.5"], "width=1.5 is not allowed: width must be an integer >= 1"),
    (["betas=[0.9]"], "betas=[0.9] is not allowed: betas must be two numbers"),
    (["optimizer.eps=0"], "optimizer.eps=0 is not allowed: optimizer.eps must be a number > 0"),
    (
        ["optimizer=sgd", "optimizer.momentum=1"],
        "optimizer.momentum=1 is not allowed: optimizer.momentum must be a number in [0, 1)",
    ),
    (["optimizer.momentum=0.5"], "optimizer.momentum=0.5 is not allowed: no such key"),
    (["optimizer.lr=0.5"], "optimizer.lr=0.5 is not allowed: optimizer.lr follows lr: set lr"),
    (["init=zeros"], "init=zeros is not allowed: no init named 'zeros'; init must be one of kaiming, seed"),
    (["target.name=nope"], "target.name=nope is not allowed: target.name must be one of"),
    (["resume=maybe"], "resume=maybe is not allowed: resume must be true or false"),
    (["register=maybe"], "register=maybe is not allowed: register must be true or false"),
    (["model_name=a/b"], "model_name=a/b is not allowed: model_name must be a non-empty name without '/'"),
    (["-m", "register=true,false"], "register cannot be swept"),
    (["lr=1,2"], "lr=1,2 is a sweep: add -m"),
    (["sweeps=lr_width"], "sweeps=lr_width is a sweep: add -m"),
    (["lr=[1"], "could not read the command line"),
    (["-m", "lr=1e-3,-1"], "lr=-1 is not allowed"),
    (["-m", "lr=1e-3,abc"], "lr=abc is not allowed"),
    (["-m", "width=8,16,0", "seed=0,1"], "width=0 is not allowed"),
    (["-m", "betas=[0.9,0.9],[0.9,1.0]"], "betas=[0.9,1.0] is not allowed"),
    (
        ["-m", "optimizer=adam,nope"],
        "optimizer=nope is not allowed: no optimizer named 'nope'; optimizer must be one of",
    ),
    (["-m", "foo=1,2"], "foo=1 is not allowed: no such key"),
    (
        ["-m", "sweeps=nope"],
        "sweeps=nope is not allowed: no sweeps named 'nope'; "
        "sweeps must be one of betas, lr_width, optimizers",
    ),
    (["-m", "experiment=a,b"], "experiment cannot be swept"),
    (["seed=-1"], "seed=-1 is not allowed: seed must be an integer in [0, 2^63)"),
    (
        ["seed=9223372036854775808"],
        "seed=9223372036854775808 is not allowed: seed must be an integer in [0, 2^63)",
    ),
    (["-m", "seed=0,18446744073709551615"], "seed=18446744073709551615 is not allowed"),
    (
        ["target=../../etc/passwd"],
        "target=../../etc/passwd is not allowed: no target named '../../etc/passwd'; "
        "target must be one of abs,",
    ),
    (
        ["-m", "hydra/sweeper=optuna", "lr=interval(0.001,0.1)", "hydra.sweeper.n_trials=1e9"],
        "hydra.sweeper.n_trials=1e9 is not allowed: "
        "hydra.sweeper.n_trials must be an integer (write 1000000000)",
    ),
    (
        ["-m", "hydra/sweeper=optuna", "lr=interval(0.001,0.1)", "hydra.sweeper.n_trials=1000000000"],
        "hydra.sweeper.n_trials=1000000000 is not allowed: hydra.sweeper.n_trials must be at most 100000",
    ),
    (["-m", "lr=interval(0,1)"], "lr=interval(0,1): the basic sweeper sweeps lists of values only"),
    (["-m", "seed=range(0,3000)", "width=16,1.5"], "width=1.5 is not allowed: width must be an integer >= 1"),
    (["-m", "seed=range(0,3000)", "steps=10,-5"], "steps=-5 is not allowed: steps must be an integer >= 1"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT + MORE_BAD_INPUT)
def test_bad_input_is_refused_with_one_line_naming_the_key(argv, message):
    with pytest.raises(ConfigError) as refused:
        check_command_line(argv)
    text = str(refused.value)
    assert text.startswith(message)
    assert "\n" not in text


@pytest.mark.parametrize(
    "argv",
    [
        [],
        [
            "lr=1",
            "width=1",
            "depth=1",
            "steps=1",
            "batch_size=1",
            "seed=9223372036854775807",
            "weight_decay=0",
            "betas=[0,0.999]",
        ],
        ["-m", "optimizer=glob(*)", "init=seed,kaiming", "target=seed,sine,abs"],
        ["--cfg", "job", "lr=-1"],  # prints the config: nothing runs, nothing to refuse
    ],
)
def test_good_input_passes(argv):
    check_command_line(argv)


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT + [(["-m", "lr=1e-3,-1", "width=8,16"], "lr=-1")])
def test_bad_input_exits_non_zero_with_one_line_and_writes_nothing(run_harness, tmp_path, argv, message):
    refused = run_harness(tmp_path, *argv, uri=None, expect_ok=False)
    assert refused.result.returncode == 2
    assert len(refused.result.stderr.strip().splitlines()) == 1
    assert refused.result.stderr.startswith(f"error: {message}")
    assert refused.result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no store, no mlruns/, no Hydra output directory


def _composed(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return GlobalHydra.instance().config_loader().load_configuration("config", overrides, RunMode.RUN)


@pytest.mark.parametrize(
    "override", ["lr=0.5", "lr=1", "weight_decay=0", "width=7", "seed=12", "steps=10", "depth=3", "lr=2e-3"]
)
def test_a_swept_number_is_checked_on_the_data_the_composed_job_has(override):
    """The preflight's shortcut for `key=<number>` (no composition per value) sees the composed job's data."""
    first = _composed([])
    numbers = PlainNumbers(typed_unresolved(first), resolved(first))
    assert numbers.checked(override, [override]) == resolved(_composed([override]))


@pytest.mark.parametrize(
    "override", ["lr=-1", "width=1.5", "lr=${weight_decay}", "optimizer.lr=0.1", "nokey=1", "seed=1_000"]
)
def test_a_value_the_shortcut_cannot_vouch_for_is_left_to_a_composition(override):
    first = _composed([])
    assert PlainNumbers(typed_unresolved(first), resolved(first)).checked(override, [override]) is None
