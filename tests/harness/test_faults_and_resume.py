"""Faults (divergence, an exception, Ctrl-C, a killed worker, two writers at once) and resume, end to
end in a subprocess."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.tracking import Tags
from tests.harness.conftest import harness_command, harness_env


@pytest.mark.slow
def test_a_diverging_job_ends_failed_with_step_and_reason_and_the_sweep_goes_on(
    run_harness, store_dir, tmp_path
):
    sweep = run_harness(store_dir, "-m", "betas=[0.9,0.999],[0.9,0.9]", "steps=50", "report=false")
    (parent,) = sweep.store.parents()
    runs = sweep.store.by_name()
    diverged, finished = runs["betas=[0.9, 0.999]"], runs["betas=[0.9, 0.9]"]
    assert diverged.info.status == "FAILED" and finished.info.status == "FINISHED"
    # loss 9.2e5 at step 0, 5.1e53 at step 1: past 1e6 x the first loss (divergence_factor)
    assert diverged.data.tags[Tags.FAILURE_STEP] == "1"
    assert (
        diverged.data.tags[Tags.FAILURE_REASON]
        == "loss 5.14e+53 > divergence_factor 1e+06 x first loss 9.23e+05"
    )
    curve = sweep.store.curve(diverged, tmp_path)
    assert len(curve) == 1 and np.isfinite(curve).all()
    assert [(m.step, m.value) for m in sweep.store.loss_history(diverged)] == [(0, pytest.approx(curve[0]))]
    assert sweep.store.artifacts(diverged) == {"config.yaml", "graph.dot", "loss.png", "curve.npz"}
    assert parent.info.status == "FINISHED"
    assert "FAILED, diverged at step 1 (loss 5.14e+53 > divergence_factor" in sweep.output


def _memory_limited():
    # 1 GB of data for the whole command: the job on 2M-point batches runs out of it (MemoryError) at
    # its first step, which the up-front estimate lets through on any machine with 3 GB available.
    resource.setrlimit(resource.RLIMIT_DATA, (2**30, 2**30))


@pytest.mark.slow
def test_an_exception_in_one_job_loses_no_other_jobs_run(store_dir, stored):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    arguments = ("-m", f"batch_size={2**21},1", "width=8", "depth=1", "steps=30")
    done = subprocess.run(
        harness_command(store_dir, *arguments), cwd=store_dir, env=harness_env(uri),
        capture_output=True, text=True, preexec_fn=_memory_limited, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    store = stored(uri)
    (parent,) = store.parents()
    raised, finished = sorted(store.children(parent), key=lambda run: run.data.params["batch_size"] == "1")
    assert raised.info.status == "FAILED" and finished.info.status == "FINISHED"
    assert "MemoryError" in raised.data.tags[Tags.FAILURE_REASON]
    assert [m.step for m in store.loss_history(finished)] == [9, 19, 29]
    assert parent.info.status == "FAILED"
    assert re.search(r"sweep \S+ ended FAILED: 1 finished, 1 failed", output)
    assert re.search(r"report: \S+report\.html", output)  # the finished job's result is reported


@pytest.mark.slow
@pytest.mark.parametrize(
    ("launcher", "running"),
    [([], 1), (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 2)],
    ids=["basic", "joblib"],
)
def test_ctrl_c_ends_the_running_runs_killed_keeping_what_was_logged(
    start_harness, stored, store_dir, launcher, running, tmp_path
):
    store, process, output = stop_long_sweep(
        start_harness, stored, store_dir, launcher, running,
        stop=lambda process: os.killpg(process.pid, signal.SIGINT),  # what Ctrl-C in a terminal does
    )  # fmt: skip
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


@pytest.mark.slow
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
    assert re.search(r"sweep \S+ ended FAILED: 1 finished, 2 failed", output)


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


@pytest.mark.slow
def test_resume_skips_finished_jobs_and_the_resumed_sweep_counts_them_as_its_own(run_harness, store_dir):
    run_harness(store_dir, "-m", "lr=1e-3,1e-2", "steps=20", "report=false")
    again = run_harness(store_dir, "-m", "lr=1e-3,1e-2,1e-1", "steps=20", "resume=true")
    first, second = sorted(again.store.parents(), key=lambda run: run.info.start_time)
    reused = again.store.children(first)
    assert len(reused) == 2
    (new,) = again.store.children(second)
    assert new.info.run_name == "lr=0.1"
    for run in reused:  # counted in the resumed sweep by reference, still in their own
        assert run.data.tags[f"reused_in.{second.data.tags[Tags.SWEEP_ID]}"] == second.info.run_id
        assert (
            f"skip {run.info.run_name}: an identical config with the same code already FINISHED"
            in again.output
        )
    assert re.search(r"sweep \S+ done: 3 finished", again.output)
    assert re.search(r"report: \S+report\.html", again.output)

    # Every job already done: no new run, no crash, and the report (end of sweep and default) has them all.
    third = run_harness(store_dir, "-m", "lr=1e-3,1e-2,1e-1", "steps=20", "resume=true")
    assert re.search(r"sweep \S+ done: 3 finished", third.output)
    assert "no report" not in third.output
    report = subprocess.run(
        [sys.executable, "-m", "harness.report", "--out", str(store_dir / "reports")],
        cwd=store_dir, env=harness_env(f"sqlite:///{store_dir}/mlflow.db"), capture_output=True, text=True,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    newest = max(third.store.parents(), key=lambda run: run.info.start_time)
    assert f"Sweep {newest.data.tags[Tags.SWEEP_ID]} " in report.stdout
    assert len(third.store.children()) == 3


def stop_long_sweep(start_harness, stored, store_dir, launcher, running, stop):
    """A sweep of three long jobs, stopped by `stop(process)` once `running` of them have logged loss:
    its store, its (ended) process and its output."""
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    process = start_harness(
        store_dir, "-m", "seed=0,1,2", "steps=1000000", "report=false", *launcher, uri=uri
    )
    output = _stop_when(
        process,
        lambda: len([r for r in store.children() if store.loss_history(r)]) == running,
        lambda: stop(process),
    )
    return store, process, output


def _stop_when(process, ready, stop) -> str:
    """Once `ready()` (within 90 s), `stop()` the sweep `process`; its output once it exits (within 60 s).
    It is never left running."""
    try:
        _wait_for(lambda: ready() or None, 300)
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


@pytest.mark.slow
def test_resume_while_the_same_sweep_runs_starts_none_of_its_running_jobs_twice(
    start_harness, run_harness, stored, store_dir
):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    sweep = ["-m", "seed=0,1", "steps=1000000", "report=false", "register=false"]
    first = start_harness(store_dir, *sweep, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", uri=uri)
    again = store_dir / "again"  # another terminal, same store
    again.mkdir()
    try:
        both = _wait_for(lambda: store.children() if len(store.children()) == 2 else None, 180)
        resumed = run_harness(again, *sweep, "resume=true", uri=uri)
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.communicate(timeout=60)
    assert len(store.children()) == 2  # the resumed sweep trained nothing of its own
    for run in both:
        skipped = f"skip {run.info.run_name}: an identical config is RUNNING in run {run.info.run_id}"
        assert skipped in resumed.output
