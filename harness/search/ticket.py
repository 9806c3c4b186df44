"""Which trial a job is: the search driver leaves a ticket per job in the sweep directory
(`.optuna_trials/<job num>.json`), which the job reads in whatever process or machine it runs."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

TICKETS_DIR = ".optuna_trials"


@dataclass(frozen=True)
class TrialTicket:
    study_name: str
    trial_number: int
    trial_id: int
    seed_index: int  # 0 reports the trial's curve; every seed stops when the trial is pruned
    sweep_id: str | None = None  # a ticket left by another sweep in the same directory is not this job's

    def write(self, sweep_dir: str | os.PathLike, job_num: int) -> Path:
        path = ticket_path(sweep_dir, job_num)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def read(cls, sweep_dir: str | os.PathLike, job_num: int) -> TrialTicket | None:
        path = ticket_path(sweep_dir, job_num)
        return cls(**json.loads(path.read_text())) if path.exists() else None


def ticket_path(sweep_dir: str | os.PathLike, job_num: int) -> Path:
    return Path(sweep_dir) / TICKETS_DIR / f"{job_num}.json"
