"""A job under SLURM stops on SLURM's signals with the reason its run ends KILLED with: submitit's
warning signal (SIGUSR2, ahead of the time limit) is the time limit, a SIGTERM before the limit a
cancel; only the first stop raises (SLURM may send SIGTERM twice). Outside SLURM nothing changes.
Real signals, each case in its own process (the handlers are process-wide)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from harness.job.slurm_stops import CANCELLED, TIME_LIMIT

CASE = """
import os, signal, time
from harness.job.signals import Terminated, raise_on_sigterm, stopped_by_slurm
from harness.job import slurm_stops

signal.signal(signal.SIGTERM, lambda *a: print("submitit's handler", flush=True))  # as submitit's job
signal.signal(signal.SIGUSR2, lambda *a: print("submitit's handler", flush=True))
raise_on_sigterm()
try:
    os.kill(os.getpid(), {signum})
    time.sleep(2)
    print("not stopped", flush=True)
except Terminated as stop:
    print("stopped:", slurm_stops.stop_reason(stop.signum), stopped_by_slurm(stop), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)  # SLURM's second SIGTERM while the run is ended
    time.sleep(0.5)
    print("ended the run", flush=True)
"""


def run_case(signum: int, slurm_job_id: str | None) -> list[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "SUBMITIT_"))}
    if slurm_job_id:
        env["SLURM_JOB_ID"] = slurm_job_id  # no SLURM_CONF: squeue cannot say the time is up
    done = subprocess.run(
        [sys.executable, "-c", CASE.format(signum=int(signum))],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(("signum", "reason"), [(signal.SIGUSR2, TIME_LIMIT), (signal.SIGTERM, CANCELLED)])
def test_in_a_slurm_job_a_stop_signal_raises_once_with_its_reason(signum, reason):
    assert run_case(signum, slurm_job_id="12345") == [f"stopped: {reason} True", "ended the run"]


@pytest.mark.parametrize("signum", [signal.SIGUSR2, signal.SIGTERM])
def test_outside_slurm_the_handlers_already_set_are_kept(signum):
    assert run_case(signum, slurm_job_id=None) == ["submitit's handler", "not stopped"]
