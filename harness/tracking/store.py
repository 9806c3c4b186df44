"""Where the MLflow store is, and the names of the tags and statuses that the runner and the report share."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from harness.tracking.redact import scrub_text

DEFAULT_EXPERIMENT = "autograd-mlp"

# Run statuses, as MLflow spells them (`RunStatus.to_string`).
FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"

INTERRUPTED = "interrupted (Ctrl-C)"  # failure_reason of a run stopped by Ctrl-C
TERMINATED = "terminated (SIGTERM)"  # ... by SIGTERM (timeout, a SLURM time limit, a container stop)


class Tags:
    SWEEP_ID = "sweep_id"
    ROLE = "role"
    SWEPT_KEYS = "swept_keys"
    OVERRIDES = "overrides"
    CONFIG_HASH = "config_hash"
    GIT_COMMIT = "git_commit"
    GIT_DIRTY = "git_dirty"  # "true" when the tree had uncommitted changes
    GIT_DIFF_HASH = "git_diff_hash"  # sha256 (16 hex) of those changes, "" when clean
    CODE_VERSION = "code_version"  # commit, or commit+diff hash: what resume=true compares
    REUSED_IN = "reused_in"  # `reused_in.<sweep_id>`: a FINISHED run a resumed sweep counts as its own
    PROCESS = "process"  # host:pid:start time of the process that owns the run (harness.sweep.stale)
    FAILURE_STEP = "failure_step"
    FAILURE_REASON = "failure_reason"
    PARENT_RUN_ID = "mlflow.parentRunId"
    NOTE = "mlflow.note.content"  # the run's description in the UI (Markdown)
    EXPERIMENT_KIND = "mlflow.experimentKind"  # an experiment tag: which view the UI opens on
    OPTUNA_STUDY = "optuna_study"  # a search's parent run and every trial's run
    OPTUNA_TRIAL = "optuna_trial"  # the trial's number in its study
    PRUNED_AT_STEP = "pruned_at_step"  # a trial's run the pruner stopped (ended KILLED)
    RERUN_OF = "rerun_of"  # a run trained again from a stored run's config (harness.rerun): that run's id
    RERUN_IDENTICAL = "rerun_identical"  # "true" when its loss curve equals the stored one bit for bit
    RERUN_RESULT = "rerun_result"  # the comparison, one line

    ROLE_SWEEP = "sweep"
    ROLE_JOB = "job"


# How a job run ended, for counting: a run the search's pruner stopped ends KILLED like one stopped by
# Ctrl-C, but it is the search working as meant, not a loss, and is counted apart.
ENDED, RUNNING = ("finished", "failed", "pruned", "killed"), "running"


def job_outcome(status: str, tags: dict[str, str]) -> str:
    """`finished`, `failed`, `pruned`, `killed` or `running`, from a job run's status and tags."""
    if status == KILLED and Tags.PRUNED_AT_STEP in tags:
        return "pruned"
    return {FINISHED: "finished", FAILED: "failed", KILLED: "killed"}.get(status, RUNNING)


def outcome_counts(outcomes) -> str:
    """`6 finished, 2 pruned`: each way a job ended that happened, in ENDED's order."""
    return ", ".join(f"{outcomes[name]} {name}" for name in ENDED if outcomes.get(name)) or "no job ended"


MODEL_TRAINING = "custom_model_development"  # the UI's value of EXPERIMENT_KIND for model training
UI_ADDRESS = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default
# With its default 4 workers, `mlflow ui` prints "Uvicorn running" ~10 s (35 s on a busy machine) before
# any worker has loaded MLflow's app, and refuses connections meanwhile; with one worker the line comes
# once the app answers (measured: the same total wait). The tour (tests/support/browser_tour.py) checks it.
UI_COMMAND = "mlflow ui --workers 1"
UI_READY = "Uvicorn running"


def reused_in_filter(sweep_id: str) -> str:
    """The MLflow search filter for the earlier runs a resumed sweep reused (`resume=true`)."""
    return f"tags.`{Tags.REUSED_IN}.{sweep_id}` != ''"


def sweep_jobs_filter(sweep_id: str) -> str:
    """The MLflow search filter for a sweep's job runs (its parent run is not a job)."""
    return f"tags.{Tags.SWEEP_ID} = '{sweep_id}' and tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'"


def resolve_tracking_uri(cwd: str | os.PathLike | None = None) -> str:
    """`MLFLOW_TRACKING_URI` when set, else an absolute `sqlite:///.../mlflow.db` in `cwd`.

    Absolute so that every job of a sweep, whatever its working directory, writes one store,
    and so that `mlflow ui` started in the same directory shows the runs with no arguments.
    """
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(cwd)


def default_tracking_uri(cwd: str | os.PathLike | None = None) -> str:
    """`sqlite:///<absolute cwd>/mlflow.db`: the store `mlflow ui` started in `cwd` opens by default."""
    directory = Path(cwd) if cwd is not None else Path.cwd()
    return f"sqlite:///{directory.resolve() / 'mlflow.db'}"


def runs_table_url(base: str, experiment_id: str) -> str:
    """The experiment's runs table in the model-training view of the MLflow UI at `base`."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def run_page_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A run's page in the model-training view of the UI that shows this store (the view parameter is
    honoured by the page the link opens, not by the pages clicked from it: see the README)."""
    server = tracking_uri.startswith(("http://", "https://"))
    base = scrub_text(tracking_uri).rstrip("/") if server else UI_ADDRESS
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def where_to_look(
    tracking_uri: str, cwd: str | os.PathLike | None = None, experiment_id: str | None = None
) -> str:
    """How a user opens the store in a browser, e.g. `mlflow ui` (run here) or the server's address;
    with `experiment_id`, a link straight to that experiment's runs table."""
    server = tracking_uri.startswith(("http://", "https://"))
    base = scrub_text(tracking_uri) if server else UI_ADDRESS
    page = runs_table_url(base, experiment_id) if experiment_id is not None else base
    if server:
        return f"open {page}"
    if tracking_uri == default_tracking_uri(cwd):
        return f"run `{UI_COMMAND}` here and, once it prints {UI_READY!r}, open {page}"
    store = shlex.quote(scrub_text(tracking_uri))
    return f"run `{UI_COMMAND} --backend-store-uri {store}` and, once it prints {UI_READY!r}, open {page}"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a `sqlite:///<path>` URI (SQLAlchemy's form), None for any other store."""
    scheme, separator, rest = tracking_uri.partition(":///")
    path = rest.partition("?")[0]
    if not separator or scheme.split("+")[0] != "sqlite" or path in ("", ":memory:"):
        return None
    return Path(path)
