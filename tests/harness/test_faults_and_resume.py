"""Faults (divergence, an exception, Ctrl-C, a killed worker, two writers at once) and resume, end to
end in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from harness.tracking import Tags

pytestmark = pytest.mark.slow


def test_a_diverging_job_ends_failed_with_step_and_reason_and_the_sweep_goes_on(
    run_harness, store_dir, tmp_path
):
    sweep = run_harness(store_dir, "-m", "betas=[0.9,0.999],[0.9,0.9]", "steps=50", "report=false")
    (parent,) = sweep.store.parents()
    runs = sweep.store.by_name()
    diverged, finished = runs["betas=[0.9, 0.999]"], runs["betas=[0.9, 0.9]"]
    assert diverged.info.status == "FAILED" and finished.info.status == "FINISHED"
    assert diverged.data.tags[Tags.FAILURE_STEP] == "3"
    assert diverged.data.tags[Tags.FAILURE_REASON] == "loss is nan"
    curve = sweep.store.curve(diverged, tmp_path)
    assert len(curve) == 3 and np.isfinite(curve).all()
    assert [(m.step, m.value) for m in sweep.store.loss_history(diverged)] == [
        (2, pytest.approx(curve.mean()))
    ]
    assert sweep.store.artifacts(diverged) == {"config.yaml", "graph.dot", "loss.png", "curve.npz"}
    assert parent.info.status == "FINISHED"
    assert "FAILED, diverged at step 3 (loss is nan)" in sweep.output


def test_an_exception_in_one_job_loses_no_other_jobs_run(run_harness, store_dir):
    # A width whose first weight matrix numpy refuses to allocate: ValueError before any memory is used.
    sweep = run_harness(store_dir, "-m", f"width={2**61},8", "steps=30", expect_ok=False)
    assert sweep.result.returncode != 0
    (parent,) = sweep.store.parents()
    raised, finished = sorted(sweep.store.children(parent), key=lambda run: run.data.params["width"] == "8")
    assert raised.info.status == "FAILED" and finished.info.status == "FINISHED"
    assert raised.data.tags[Tags.FAILURE_REASON].startswith("ValueError")
    assert [m.step for m in sweep.store.loss_history(finished)] == [9, 19, 29]
    assert parent.info.status == "FAILED"
    assert re.search(r"sweep \S+ ended FAILED: 1 FAILED, 1 FINISHED", sweep.output)
    assert re.search(r"report: \S+report\.html", sweep.output)  # the finished job's result is reported


@pytest.mark.parametrize(
    ("launcher", "running"),
    [([], 1), (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 2)],
    ids=["basic", "joblib"],
)
def test_ctrl_c_ends_the_running_runs_killed_keeping_what_was_logged(
    start_harness, stored, store_dir, launcher, running, tmp_path
):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    process = start_harness(
        store_dir, "-m", "seed=0,1,2", "steps=1000000", "report=false", *launcher, uri=uri
    )
    output = _stop_when(
        process,
        lambda: len([r for r in store.children() if store.loss_history(r)]) == running,
        lambda: os.killpg(process.pid, signal.SIGINT),  # what Ctrl-C in a terminal does
    )
    assert process.returncode == 130, output[-3000:]
    killed = store.children()
    assert len(killed) == running  # the jobs not started yet never start
    for run in killed:
        assert run.info.status == "KILLED"
        assert run.data.tags[Tags.FAILURE_REASON] == "interrupted (Ctrl-C)"
        done = int(run.data.tags[Tags.FAILURE_STEP])
        assert done >= 100 and [m.step for m in store.loss_history(run)] == store.logged_steps(done)
        if not launcher:  # the job ended its own run (loky stops a joblib worker before it can)
            assert len(store.curve(run, tmp_path)) == done
    (parent,) = store.parents()
    assert parent.info.status == "KILLED"
    assert "interrupted" in output


def test_a_killed_worker_fails_its_run_and_the_sweep_keeping_every_run(start_harness, stored, store_dir):
    # Job 0 finishes; jobs 1 and 2 run long on the two workers, until one worker is SIGKILLed (the
    # kernel's OOM killer, a segfault). loky then kills the other worker too, and the sweep stops.
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    joblib = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    process = start_harness(store_dir, "-m", "steps=30,1000000,1000001", "report=false", *joblib, uri=uri)
    output = _stop_when(
        process,
        lambda: _statuses_with_loss(store) == ["FINISHED", "RUNNING", "RUNNING"],
        lambda: os.kill(_loky_workers(process.pid)[0], signal.SIGKILL),
    )
    assert process.returncode == 1, output[-3000:]
    runs = store.by_name()
    finished = runs.pop("steps=30")
    assert finished.info.status == "FINISHED" and len(store.loss_history(finished)) == 3
    for run in runs.values():  # the killed worker's run and the other worker's
        assert run.info.status == "FAILED"
        assert run.data.tags[Tags.FAILURE_REASON] == "its process ended before the job could end the run"
        logged = [m.step for m in store.loss_history(run)]  # what the job sent before its process died
        assert logged and logged == store.logged_steps(int(run.data.tags[Tags.FAILURE_STEP]))
    (parent,) = store.parents()
    assert parent.info.status == "FAILED"
    assert re.search(r"sweep \S+ ended FAILED: 2 FAILED, 1 FINISHED", output)


def _statuses_with_loss(store) -> list[str]:
    """The statuses of the job runs that have logged some loss."""
    return sorted(run.info.status for run in store.children() if store.loss_history(run))


def _loky_workers(pid: int) -> list[int]:
    """The two joblib (loky) worker processes among the children of process `pid`."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    children = [int(child) for task in tasks for child in (task / "children").read_text().split()]
    command_lines = {child: Path(f"/proc/{child}/cmdline").read_bytes() for child in children}
    workers = [child for child, command_line in command_lines.items() if b"LokyProcess" in command_line]
    assert len(workers) == 2, command_lines
    return workers


def test_resume_skips_jobs_whose_identical_config_already_finished(run_harness, store_dir):
    run_harness(store_dir, "-m", "lr=1e-3,1e-2", "steps=20", "report=false")
    again = run_harness(store_dir, "-m", "lr=1e-3,1e-2,1e-1", "steps=20", "report=false", "resume=true")
    first, second = sorted(again.store.parents(), key=lambda run: run.info.start_time)
    assert len(again.store.children(first)) == 2
    (new,) = again.store.children(second)
    assert new.info.run_name == "lr=0.1"
    assert "skip lr=0.001: an identical config already FINISHED in run" in again.output
    assert "skip lr=0.01: an identical config already FINISHED in run" in again.output


def _stop_when(process, ready, stop) -> str:
    """Once `ready()` (within 90 s), `stop()` the sweep `process`; its output once it exits (within 60 s).
    It is never left running."""
    try:
        _wait_for(lambda: ready() or None, 90)
        stop()
        return process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_for(find, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not there after {seconds} s")


def test_two_sweeps_started_at_once_into_a_fresh_store_both_keep_every_run(start_harness, stored, tmp_path):
    # Two terminals, one store that does not exist yet: both sweeps create it at the same moment.
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    steps = 50
    processes = []
    for terminal in ("a", "b"):
        (tmp_path / terminal).mkdir()
        arguments = ("-m", "seed=0,1", f"steps={steps}", "report=false")
        processes.append(start_harness(tmp_path / terminal, *arguments, uri=uri))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=120)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
    store = stored(uri)
    parents = store.parents()
    assert len(parents) == 2 and {run.info.status for run in parents} == {"FINISHED"}
    for parent in parents:
        children = store.children(parent)
        assert sorted(run.info.run_name for run in children) == ["seed=0", "seed=1"]
        for run in children:
            assert run.info.status == "FINISHED"
            assert [m.step for m in store.loss_history(run)] == store.logged_steps(steps)
    assert len(store.children()) == 4
