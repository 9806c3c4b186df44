"""SIGTERM (timeout, SLURM, a container stop) handled as Ctrl-C is, with real signals and processes;
runs a `kill -9` left RUNNING are closed by the next command."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from harness.tracking import Tags
from tests.harness.test_faults_and_resume import _wait_for, stop_long_sweep


def _session_processes(session: int) -> list[psutil.Process]:
    alive = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except (OSError, psutil.Error):
            continue
    return alive


@pytest.mark.parametrize(
    ("launcher", "running"),
    [([], 1), pytest.param(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 2, marks=pytest.mark.slow)],
    ids=["basic", "joblib"],
)
def test_sigterm_to_the_command_ends_its_runs_killed_and_leaves_no_process(
    start_harness, stored, store_dir, launcher, running
):
    store, process, output = stop_long_sweep(
        start_harness, stored, store_dir, launcher, running,
        stop=lambda process: process.send_signal(signal.SIGTERM),  # to the command alone, as `timeout` does
    )  # fmt: skip
    assert process.returncode == 143, output[-3000:]
    assert "terminated (SIGTERM): the current run and its sweep are ended KILLED" in output
    assert "Traceback" not in output and "resource_tracker" not in output, output[-3000:]  # loky's
    killed = store.children()
    assert len(killed) == running
    for run in killed:
        assert run.info.status == "KILLED"
        assert run.data.tags[Tags.FAILURE_REASON] == "terminated (SIGTERM)"
        logged = store.loss_history(run)  # one point per log_every_n_steps (10) steps, the window's mean
        assert len(logged) >= 10 and int(run.data.tags[Tags.FAILURE_STEP]) >= logged[-1].step + 1
        assert [m.step for m in logged] == list(range(9, 10 * len(logged), 10))
    (parent,) = store.parents()
    assert parent.info.status == "KILLED"
    assert _wait_for(lambda: _session_processes(process.pid) == [] or None, 10)  # no worker left, nor idle


@pytest.mark.slow
def test_a_run_left_running_by_kill_9_is_closed_by_the_next_command(
    start_harness, run_harness, stored, store_dir
):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    process = start_harness(store_dir, "steps=1000000", "report=false", uri=uri)
    try:
        (run,) = _wait_for(lambda: [r for r in store.children() if store.loss_history(r)] or None, 90)
        os.killpg(process.pid, signal.SIGKILL)  # as the OOM killer does: nothing can be caught
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    time.sleep(0.5)
    assert store.client.get_run(run.info.run_id).info.status == "RUNNING"
    later = run_harness(store_dir, "steps=20", "report=false", uri=uri)
    closed = store.client.get_run(run.info.run_id)
    assert closed.info.status == "FAILED"
    assert closed.data.tags[Tags.FAILURE_REASON].startswith("its process (")
    assert "ended without ending the run (kill -9, out of memory?)" in closed.data.tags[Tags.FAILURE_REASON]
    assert int(closed.data.tags[Tags.FAILURE_STEP]) == store.loss_history(closed)[-1].step + 1 > 0
    assert "closed 1 run(s) left RUNNING by a process that is gone" in later.output


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "vectorized"])
def test_workers_stop_and_end_their_runs_when_their_launcher_is_killed(
    start_harness, stored, store_dir, launcher
):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    process = start_harness(
        store_dir, "-m", "seed=0,1,2,3", "width=8,16", "steps=1000000", "report=false",
        f"hydra/launcher={launcher}", "hydra.launcher.n_jobs=2", uri=uri,
    )  # fmt: skip
    try:
        _wait_for(lambda: len([r for r in store.children() if store.loss_history(r)]) >= 2 or None, 120)
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers
        process.kill()  # the launcher alone, as the OOM killer picks one process: its workers are orphans
        process.wait(timeout=30)
        _, alive = psutil.wait_procs(workers, timeout=45)
        assert alive == []  # each worker saw its parent go, ended its runs and exited
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for worker in _session_processes(process.pid):
            worker.kill()
    for run in store.children():
        assert run.info.status == "KILLED", run.info
        assert run.data.tags[Tags.FAILURE_REASON] == "terminated (SIGTERM)"
