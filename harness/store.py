"""Where the MLflow store is, and the names of the tags the runner writes and the report reads."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_EXPERIMENT = "autograd-mlp"


class Tags:
    SWEEP_ID = "sweep_id"
    ROLE = "role"
    SWEPT_KEYS = "swept_keys"
    OVERRIDES = "overrides"
    CONFIG_HASH = "config_hash"
    GIT_COMMIT = "git_commit"
    FAILURE_STEP = "failure_step"
    FAILURE_REASON = "failure_reason"
    PARENT_RUN_ID = "mlflow.parentRunId"

    ROLE_SWEEP = "sweep"
    ROLE_JOB = "job"


def resolve_tracking_uri(cwd: str | os.PathLike | None = None) -> str:
    """`MLFLOW_TRACKING_URI` when set, else an absolute `sqlite:///.../mlflow.db` in `cwd`.

    Absolute so that every job of a sweep, whatever its working directory, writes one store,
    and so that `mlflow ui` started in the same directory shows the runs with no arguments.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    directory = Path(cwd) if cwd is not None else Path.cwd()
    return f"sqlite:///{directory.resolve() / 'mlflow.db'}"
