"""Why SLURM stopped a job: its time limit, or `scancel`. Only used when the job runs under SLURM
(`SLURM_JOB_ID` set); the handlers themselves are harness.job.signals'.

Through submitit, SLURM sends a job SIGUSR2 `signal_delay_s` seconds ahead of its time limit (submitit
asks for it with `sbatch --signal=USR2@<signal_delay_s>`; SLURM may send it up to 60 s early, and
`SUBMITIT_PREEMPT_SIGNAL` names another signal), then SIGTERM once the limit is reached and SIGKILL
`KillWait` seconds later. `scancel` sends SIGTERM (SIGCONT and SIGTERM, sometimes twice), SIGKILL
`KillWait` later. submitit's own handlers only log SIGTERM, and on SIGUSR2 raise wherever the job
happens to be or requeue it (a harness job cannot resume halfway: `resume=true` reruns it), so a
harness job replaces them with harness.job.signals' and ends its run KILLED with one of the
reasons below, its curve so far kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

TIME_LIMIT = "time limit"
CANCELLED = "cancelled (SIGTERM)"
SUBMITIT_SIGNAL_VARIABLE = "SUBMITIT_PREEMPT_SIGNAL"  # submitit's name for its warning signal's variable


def job_id() -> str | None:
    """This process's SLURM job id, None outside SLURM."""
    return os.environ.get("SLURM_JOB_ID") or None


def warning_signal() -> signal.Signals:
    """The signal submitit asks SLURM to send ahead of the time limit (SIGUSR2 unless told otherwise)."""
    return getattr(signal, "SIG" + os.environ.get(SUBMITIT_SIGNAL_VARIABLE, "USR2"), signal.SIGUSR2)


def stop_reason(signum: int) -> str:
    """The reason a SLURM job stopped by `signum` ends its run with: the warning signal, or a SIGTERM
    once the job has used its whole time, is the time limit; any other SIGTERM a cancel."""
    return TIME_LIMIT if signum == warning_signal() or time_is_up() else CANCELLED


_end_time: list[float | None] = []  # this job's scheduled end, read once while it runs


def note_end_time() -> None:
    """Read this job's scheduled end (start + time limit) now, while it runs: after `scancel` SLURM
    moves it to the cancel time, and a job being stopped cannot count on squeue answering in time."""
    _end_time[:] = [scheduled_end()]


def time_is_up() -> bool:
    """Whether this SLURM job has reached its scheduled end (a SIGTERM then is the time limit's)."""
    if not _end_time:
        note_end_time()
    return _end_time[0] is not None and time.time() >= _end_time[0] - 5


def scheduled_end() -> float | None:
    """This job's end time as `squeue` shows it (for a running job: its start + its time limit)."""
    job = job_id()
    if not job:
        return None
    try:
        shown = subprocess.run(
            ["squeue", "-h", "-j", job, "-o", "%e"], capture_output=True, text=True, timeout=30
        )
        return time.mktime(time.strptime(shown.stdout.strip(), "%Y-%m-%dT%H:%M:%S"))
    except (OSError, ValueError, subprocess.SubprocessError):
        return None  # no limit known (UNLIMITED, squeue missing): a SIGTERM is a cancel
