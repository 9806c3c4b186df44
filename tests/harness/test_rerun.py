"""`rerun=<run id or sweep id>`: a stored run trained again from what the store holds, its curve compared
bit for bit with the stored one. In this process (the command line's expansion, then the job, as Hydra
would launch it); a sweep's rerun through the real runner and the vectorized launcher in a subprocess."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import engine.ops
from harness.checks.validation import ConfigError
from harness.job.job import run_job
from harness.rerun.command_line import expand_rerun
from harness.rerun.curves import compare_curves
from harness.rerun.summary import rerun_lines
from harness.run import EXIT_BAD_INPUT, main
from harness.sweep_context import start_sweep
from harness.tracking import FAILED, FINISHED, Tags

SMALL = ("steps=300", "width=8", "init=kaiming", "report=false", "register=false")


@pytest.fixture
def store(store_dir, stored):
    return stored(f"sqlite:///{store_dir / 'mlflow.db'}")


@pytest.fixture
def rerun(job_config):
    """`rerun("rerun=<id>", ...)`: the command line expanded as `python -m harness.run` does, its one job
    run here under a sweep id of its own; the lines the command ends with."""

    def _rerun(*arguments: str) -> list[str]:
        command = expand_rerun(list(arguments))
        assert command is not None and len(command.run_ids) == 1
        sweep_id = start_sweep()
        run_job(job_config(*command.argv))
        return rerun_lines(command, sweep_id)

    return _rerun


def rerun_of(store, run_id: str):
    (run,) = [run for run in store.children() if run.data.tags.get(Tags.RERUN_OF) == run_id]
    return run


def test_a_rerun_of_a_finished_run_is_bit_identical_and_says_so(job_config, rerun, store, tmp_path):
    original = run_job(job_config(*SMALL, "seed=3"))
    (line,) = rerun(f"rerun={original}")
    again = rerun_of(store, original)
    assert line == f"run {original}, rerun {again.info.run_id}: bit-identical: the same loss at all 300 steps"
    assert again.info.status == FINISHED and again.data.tags[Tags.RERUN_IDENTICAL] == "true"
    first, second = (
        store.curve(store.client.get_run(i), tmp_path / i) for i in (original, again.info.run_id)
    )
    assert first.tobytes() == second.tobytes()
    assert again.data.params == store.client.get_run(original).data.params
    assert again.info.run_name == "steps=300 width=8 init=kaiming seed=3"  # the stored run's name


def test_a_rerun_of_a_diverged_run_is_bit_identical(job_config, rerun, store):
    original = run_job(job_config(*SMALL, "optimizer=sgd", "lr=100", "divergence_factor=inf"))
    (line,) = rerun(f"rerun={original}")
    stored_run, again = store.client.get_run(original), rerun_of(store, original)
    assert stored_run.info.status == again.info.status == FAILED
    assert again.data.tags[Tags.FAILURE_STEP] == stored_run.data.tags[Tags.FAILURE_STEP]
    assert int(stored_run.data.tags[Tags.FAILURE_STEP]) < 300
    assert "bit-identical" in line


def test_a_rerun_after_an_engine_change_names_the_first_step_that_differs(
    job_config, rerun, store, monkeypatch, tmp_path
):
    original = run_job(job_config(*SMALL))

    def backward_with_another_slope(self, grad):  # an engine edit: the slope's gradient 1e-6 off
        slope = self.negative_slope * (1 + 1e-6)
        return (np.where(self.dependencies[0].values > 0, grad, grad * slope),)

    monkeypatch.setattr(engine.ops.LeakyRelu, "backward_step", backward_with_another_slope)
    (line,) = rerun(f"rerun={original}")
    again = rerun_of(store, original)
    first, second = (
        store.curve(store.client.get_run(i), tmp_path / i) for i in (original, again.info.run_id)
    )
    step = int(np.flatnonzero(first != second)[0])
    new, old = float(second[step]), float(first[step])
    assert f"first differs at step {step}: loss {new!r} against {old!r} stored" in line
    assert line.endswith("the code and versions are the stored run's own")  # the patch is not in git
    assert again.data.tags[Tags.RERUN_IDENTICAL] == "false" and again.data.tags[Tags.RERUN_RESULT] in line


def test_other_code_is_refused_with_how_to_force_it_and_forced_says_what_differs(job_config, rerun, store):
    original = run_job(job_config(*SMALL))
    store.client.set_tag(original, Tags.CODE_VERSION, "0123456789abcdef0123456789abcdef01234567")
    with pytest.raises(
        ConfigError, match=r"ran other code than the working tree \(code 0123456789 \(clean\)"
    ):
        expand_rerun([f"rerun={original}"])
    with pytest.raises(ConfigError) as refused:
        expand_rerun([f"rerun={original}"])
    assert str(refused.value).endswith(
        "add rerun_code=current to train it with the current code and see what changes"
    )
    (line,) = rerun(f"rerun={original}", "rerun_code=current")
    assert "bit-identical" in line and "code and versions differ: code 0123456789 (clean) -> " in line


def test_every_run_says_how_to_reproduce_it(job_config, store):
    run_id = run_job(job_config(*SMALL, "lr=0.01"))
    note = store.client.get_run(run_id).data.tags[Tags.NOTE]
    assert f"    python -m harness.run rerun={run_id}\n" in note
    assert note.endswith(
        "    python -m harness.run steps=300 width=8 init=kaiming report=false register=false lr=0.01"
    )


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (
            ["rerun=0123456789abcdef0123456789abcdef"],
            "rerun=0123456789abcdef0123456789abcdef is not allowed: no run",
        ),
        (["rerun=last"], "rerun=last is not allowed: it must be rerun=<run id> or rerun=<sweep id>"),
        (["rerun=20200101-000000-abcd"], "no sweep 20200101-000000-abcd with job runs in the store"),
        (["rerun={run}", "lr=0.1"], "lr=0.1 cannot be used with rerun=: a rerun trains the stored settings"),
        (["rerun={run}", "--cfg", "job"], "--cfg cannot be used with rerun=: it takes only -m and overrides"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(job_config, store, capsys, arguments, says):
    run_id = run_job(job_config(*SMALL))
    before = len(store.runs())
    with pytest.raises(SystemExit) as exit_:
        main([argument.format(run=run_id) for argument in arguments])
    err = capsys.readouterr().err
    assert exit_.value.code == EXIT_BAD_INPUT and err.count("\n") == 1 and says in err, err
    assert len(store.runs()) == before


def test_a_run_whose_artifacts_are_gone_is_refused_naming_what_is_missing(job_config, store, capsys):
    run_id = run_job(job_config(*SMALL))
    artifacts = Path(store.client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    (artifacts / "curve.npz").unlink()
    with pytest.raises(SystemExit):
        main([f"rerun={run_id}"])
    err = capsys.readouterr().err
    assert re.fullmatch(
        rf"error: rerun={run_id} is not allowed: its artifacts are gone \(curve\.npz missing .*\n", err
    )
    shutil.rmtree(artifacts)
    with pytest.raises(SystemExit):
        main([f"rerun={run_id}"])
    assert "(config.yaml, curve.npz missing" in capsys.readouterr().err


def test_curves_are_compared_as_bits_and_by_length():
    assert compare_curves(np.array([1.0, 0.0]), np.array([1.0, -0.0])).first_difference == 1
    shorter = compare_curves(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0]))
    assert (
        shorter.first_difference == 2 and "the stored curve has 3 steps, the rerun's 2" in shorter.describe()
    )
    assert compare_curves(np.array([1.0, np.nan]), np.array([1.0, np.nan])).identical


@pytest.mark.slow
def test_a_sweep_rerun_through_the_vectorized_launcher_is_n_of_n_identical(run_harness, tmp_path):
    vectorized = ("hydra/launcher=vectorized", "hydra.launcher.n_jobs=1")
    sweep = run_harness(tmp_path, "-m", "seed=0,1,2", "lr=1e-3,100", *SMALL[:3], "report=false", *vectorized)
    (parent,) = sweep.store.parents()
    sweep_id = parent.data.tags[Tags.SWEEP_ID]
    assert f"python -m harness.run rerun={sweep_id}" in parent.data.tags[Tags.NOTE]
    again = run_harness(tmp_path, f"rerun={sweep_id}", *vectorized)
    assert "6/6 identical (rerun sweep " in again.result.stdout, again.output[-3000:]
    rerun_parent = next(run for run in again.store.parents() if run.info.run_id != parent.info.run_id)
    assert again.store.children(rerun_parent) and {
        run.data.tags[Tags.RERUN_OF] for run in again.store.children(rerun_parent)
    } == {run.info.run_id for run in sweep.store.children(parent)}
