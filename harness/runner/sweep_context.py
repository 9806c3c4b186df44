"""What every job of a sweep must share, handed from the sweep's process to its jobs through a small
JSON file in Hydra's sweep directory (it works for jobs in other processes: joblib, submitit).

The tracking URI is in the file only when it carries no credentials; otherwise jobs read it from
`MLFLOW_TRACKING_URI`, where it came from.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.runner.provenance import git_commit, provenance_tags
from harness.runner.stale import process_tag
from harness.runner.sweep_id import current_sweep_id, new_sweep_id
from harness.tracking import Tags, has_credentials, resolve_tracking_uri

__all__ = ["SweepContext", "current_sweep_id", "new_sweep_id"]


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

    def run_tags(self, role: str, overrides: list[str]) -> dict[str, str]:
        """The tags of every run of the sweep, its parent's and its jobs' alike."""
        return {
            Tags.SWEEP_ID: self.sweep_id,
            Tags.ROLE: role,
            Tags.SWEPT_KEYS: json.dumps(self.swept_keys),
            Tags.OVERRIDES: " ".join(overrides),
            Tags.GIT_COMMIT: git_commit(),
            Tags.PROCESS: process_tag(),
            **provenance_tags(),
        }

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
