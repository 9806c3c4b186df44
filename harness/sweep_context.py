"""What a sweep hands its jobs: its id, and a small record of what every job must share.

The id of the sweep (or single run) this process belongs to, shared with the jobs it launches:

`python -m harness.run` draws a fresh id before Hydra starts (`start_sweep`); Hydra resolves
`${harness_sweep_id:}` in `hydra.sweep.dir` and `hydra.run.dir` with it, so two commands started in
the same second in one folder get two folders, and it reaches every job through `hydra.job.env_set`
(conf/config.yaml), whichever process or machine the launcher runs the job in.

The record (`SweepContext`) goes from the sweep's process to its jobs (and to the search driver)
through a small JSON file in Hydra's sweep directory, so it works for jobs in other processes
(joblib, submitit). The tracking URI is in the file only when it carries no credentials; otherwise
jobs read it from `MLFLOW_TRACKING_URI`, where it came from.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.tracking import has_credentials, resolve_tracking_uri

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


def file_name(sweep_id: str) -> str:
    """Named by the sweep, so that sweeps sharing a folder (`hydra.sweep.dir=...`) keep their own."""
    return f"mlflow_sweep-{sweep_id}.json"


@dataclass
class SweepContext:
    sweep_id: str
    experiment_id: str | None
    parent_run_id: str | None
    swept_keys: list[str]
    tracking_uri: str | None = None

    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or resolve_tracking_uri()

    def write(self, sweep_dir: str | os.PathLike) -> Path:
        data = asdict(self)
        if self.tracking_uri and has_credentials(self.tracking_uri):
            data["tracking_uri"] = None
        path = Path(sweep_dir) / file_name(self.sweep_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        return path

    @classmethod
    def read(cls, sweep_dir: str | os.PathLike, sweep_id: str | None = None) -> SweepContext | None:
        """The context of sweep `sweep_id` (this process's sweep by default), None if not written."""
        path = Path(sweep_dir) / file_name(sweep_id or current_sweep_id())
        return cls(**json.loads(path.read_text())) if path.exists() else None
