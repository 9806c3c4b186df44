"""A rerun job: the stored run's resolved config trained again, its curve compared with the stored one.

The composed config only says which run (`rerun=<id>`) and how to record (the bookkeeping keys); every
setting that computes comes from the stored `config.yaml`, so a changed default in conf/ does not
change what is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mlflow.entities import Run

from harness.checks.job_config import JobConfig
from harness.checks.schema import BOOKKEEPING_KEYS, GROUPS, Config, config_hash, run_params
from harness.checks.validation import ConfigError
from harness.rerun.code import code_differences
from harness.rerun.curves import compare_curves
from harness.rerun.stored import stored_config, stored_curve
from harness.tracking import Tags, Tracker


@dataclass(frozen=True)
class Rerun:
    original: Run
    job: JobConfig
    stored_curve: np.ndarray

    @property
    def original_id(self) -> str:
        return self.original.info.run_id

    @property
    def overrides(self) -> list[str]:
        """The stored run's own command-line overrides (its `overrides` tag)."""
        return self.original.data.tags.get(Tags.OVERRIDES, "").split()

    @property
    def name(self) -> str:
        return self.original.info.run_name

    def outcome(self, losses: np.ndarray) -> dict[str, str]:
        """The tags that say how the new curve compares: `rerun_identical`, and the comparison's line."""
        comparison = compare_curves(self.stored_curve, losses)
        differences = code_differences(self.original.data.tags)
        line = comparison.describe()
        if differences:
            line += "; code and versions differ: " + ", ".join(differences)
        elif not comparison.identical:
            line += "; the code and versions are the stored run's own"
        return {Tags.RERUN_IDENTICAL: str(comparison.identical).lower(), Tags.RERUN_RESULT: line}


def load_rerun(tracker: Tracker, composed: Config) -> Rerun:
    """The stored run `composed.rerun` as a job: its settings, with `composed`'s bookkeeping (resume off)."""
    run = tracker.find_run(composed.rerun)
    if run is None:
        raise ConfigError(f"rerun={composed.rerun} is not allowed: no run {composed.rerun} in the store")
    # its status and artifacts were checked with the command line (harness.rerun.command_line)
    bookkeeping = {key: value for key, value in composed.as_data().items() if key in BOOKKEEPING_KEYS}
    data = stored_config(tracker, run) | bookkeeping | {"resume": False}
    choices = {group: run.data.params[group] for group in GROUPS if group in run.data.params}
    job = JobConfig(Config.from_data(data), run_params(data, choices), config_hash(data))
    return Rerun(run, job, stored_curve(tracker, run))
