"""The id of the sweep (or single run) this process belongs to, shared with the jobs it launches.

`python -m harness.run` draws a fresh id before Hydra starts (`start_sweep`); Hydra resolves
`${harness_sweep_id:}` in `hydra.sweep.dir` and `hydra.run.dir` with it, so two commands started in
the same second in one folder get two folders, and it reaches every job through `hydra.job.env_set`
(conf/config.yaml), whichever process or machine the launcher runs the job in.
"""

from __future__ import annotations

import os
import time

SWEEP_ID_ENV = "HARNESS_SWEEP_ID"


def new_sweep_id() -> str:
    """`20261126-051003-3f2a`: when it started, and 4 random hex digits."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"


def start_sweep() -> str:
    """A fresh id for the command this process is about to run."""
    os.environ[SWEEP_ID_ENV] = new_sweep_id()
    return os.environ[SWEEP_ID_ENV]


def current_sweep_id() -> str:
    """The id of this process's sweep (a job's, inside a job), drawn on first use."""
    return os.environ.get(SWEEP_ID_ENV) or start_sweep()
