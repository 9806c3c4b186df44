"""What the store holds of a run to train again: the run, its resolved config (`config.yaml`) and its
loss at every step (`curve.npz`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.entities import Run
from omegaconf import OmegaConf

from harness.checks.validation import ConfigError
from harness.curves import CURVE_FILE
from harness.tracking import FAILED, FINISHED, DamagedArtifact, Tracker, read_arrays

CONFIG_FILE = "config.yaml"
NEEDED_ARTIFACTS = (CONFIG_FILE, CURVE_FILE)
# A KILLED run was stopped from outside (Ctrl-C, a pruner, a time limit): nothing in its config says
# where, so its curve cannot come back; a RUNNING one has no curve yet.
RERUNNABLE = (FINISHED, FAILED)


def check_rerunnable(tracker: Tracker, run: Run) -> None:
    """ConfigError (one line) if `run` cannot be trained again: its status, or missing artifacts."""
    run_id, status = run.info.run_id, run.info.status
    if status not in RERUNNABLE:
        raise ConfigError(
            f"rerun={run_id} is not allowed: the run is {status}, stopped from outside or not ended; "
            "only FINISHED and FAILED runs can be trained again"
        )
    present = tracker.artifact_names(run.info.artifact_uri)
    if missing := [name for name in NEEDED_ARTIFACTS if name not in present]:
        raise ConfigError(
            f"rerun={run_id} is not allowed: its artifacts are gone ({', '.join(missing)} missing "
            f"under {run.info.artifact_uri}); a rerun needs its {CONFIG_FILE} and {CURVE_FILE}"
        )


def _download(tracker: Tracker, run: Run, name: str, into: Path) -> Path:
    try:
        return tracker.download_from(run.info.artifact_uri, name, into)
    except Exception as error:  # removed since the command line was checked
        raise ConfigError(f"rerun={run.info.run_id}: its {name} cannot be read ({error})") from None


def stored_config(tracker: Tracker, run: Run) -> dict[str, Any]:
    """The run's resolved config as it trained, plain data."""
    with tempfile.TemporaryDirectory(prefix="harness-rerun-") as scratch:
        path = _download(tracker, run, CONFIG_FILE, Path(scratch))
        return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def stored_curve(tracker: Tracker, run: Run) -> np.ndarray:
    """The run's loss at every step."""
    with tempfile.TemporaryDirectory(prefix="harness-rerun-") as scratch:
        path = _download(tracker, run, CURVE_FILE, Path(scratch))
        try:
            return read_arrays(path)["loss"]
        except (DamagedArtifact, KeyError) as error:
            raise ConfigError(f"rerun={run.info.run_id}: its {CURVE_FILE} is damaged: {error}") from None
