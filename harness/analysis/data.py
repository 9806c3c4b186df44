"""Read one sweep out of the MLflow store into pandas: a row per run, the loss curves, the fitted curves.

The layout read here is the one the gateway (`harness.tracking`) writes (docs/contracts.md): a parent run
tagged `role=sweep` and one child per job, or a single job run with no parent.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from harness.curves import CURVE_FILE
from harness.tracking import (
    DEFAULT_EXPERIMENT,
    Tags,
    Tracker,
    open_store,
    read_arrays,
    resolve_tracking_uri,
    scrub_text,
    sqlite_path,
)

LATEST = "latest"
SWEEP_ID = re.compile(r"[\w.-]+")
SEED_KEY = "seed"
FINAL_METRICS = ["final_loss", "eval_mse", "eval_max_abs_err", "train_seconds"]
PROJECT_TAGS = {
    Tags.SWEEP_ID: "sweep_id",
    Tags.ROLE: "role",
    Tags.SWEPT_KEYS: "swept_keys",
    Tags.OVERRIDES: "overrides",
    Tags.CONFIG_HASH: "config_hash",
    Tags.GIT_COMMIT: "git_commit",
    Tags.FAILURE_STEP: "failure_step",
    Tags.FAILURE_REASON: "failure_reason",
    Tags.PARENT_RUN_ID: "parent_run_id",
    Tags.OPTUNA_STUDY: "optuna_study",
    Tags.OPTUNA_TRIAL: "optuna_trial",
    Tags.PRUNED_AT_STEP: "pruned_at_step",
}
ALL_RUNS_LABEL = "all runs"
RECENT_SWEEPS_SHOWN = 10


class ReportError(Exception):
    """A problem the user can fix (no store, unknown experiment or sweep), told in one line."""


@dataclass(frozen=True)
class Sweep:
    """Where a sweep lives: its experiment, its id, the run that holds its report, what it varies."""

    tracking_uri: str
    experiment: str
    experiment_id: str
    sweep_id: str
    root_run_id: str | None  # the parent run, or the single run itself
    swept_keys: tuple[str, ...]
    overrides: str
    setting_columns: tuple[str, ...]  # the params that tell settings apart (see `setting_columns`)
    picked: str = ""  # how `latest` was resolved, said to the user; empty when named

    @property
    def setting_keys(self) -> list[str]:
        return list(self.setting_columns)


def setting_columns(swept_keys: list[str]) -> tuple[str, ...]:
    """The columns that make a setting: every swept key but the seed (averaged over), named as on the
    command line and in run names (`optimizer`; for runs recorded before config groups were params of
    their own, `runs_frame` takes its value from `optimizer.name`)."""
    return tuple(key for key in swept_keys if key != SEED_KEY)


def group_param(key: str, names: set[str]) -> str:
    """The param holding a swept key's value: the key itself, or a config group's `name` param."""
    return key if key in names or f"{key}.name" not in names else f"{key}.name"


def value_order(value: object) -> tuple:
    """A sort key that orders values as numbers: 2 < 10, and lists like `[0.9, 0.99]` element-wise."""
    if isinstance(value, bool) or value is None or (isinstance(value, float) and np.isnan(value)):
        return (3, str(value))
    if isinstance(value, int | float | np.number):
        return (0, float(value))
    if isinstance(value, str) and value.startswith("["):
        try:
            items = json.loads(value)
            return (1, tuple(float(item) for item in items))
        except (ValueError, TypeError):
            pass
    return (2, str(value))


def by_value(column: pd.Series) -> pd.Series:
    """`sort_values(key=by_value)`: numeric order of a column's values (see `value_order`)."""
    return column.map(value_order)


def open_reader(tracking_uri: str | None = None) -> tuple[Tracker, str]:
    """The gateway on the runner's store; refuses to create an empty sqlite store by reading it."""
    uri = tracking_uri or resolve_tracking_uri()
    database = sqlite_path(uri)
    if database is not None and not database.exists():
        raise ReportError(f"no MLflow store at {database}: run `python -m harness.run` first")
    return open_store(uri), uri


def find_sweep(experiment: str | None = None, sweep: str = LATEST, tracking_uri: str | None = None) -> Sweep:
    """Resolve `experiment` (default: the runner's) and `sweep` (an id, or `latest`) to a `Sweep`."""
    store, uri = open_reader(tracking_uri)
    experiment = experiment or DEFAULT_EXPERIMENT
    experiment_id = store.find_experiment_id(experiment)
    shown = scrub_text(uri)  # a server's URI may carry credentials: never shown
    if experiment_id is None:
        names = store.experiment_names()
        if set(names) <= {"Default"}:
            raise ReportError(f"the store {shown} holds no experiment yet: run `python -m harness.run` first")
        raise ReportError(f"no experiment {experiment!r} in {shown}; experiments: {', '.join(sorted(names))}")
    if sweep not in (None, LATEST) and not SWEEP_ID.fullmatch(sweep):  # it goes into a search filter
        raise ReportError(f"--sweep {sweep!r} is not a sweep id: they look like 20261126-051003-3f2a")
    picked = ""
    if sweep in (None, LATEST):
        sweep_id, picked = latest_sweep_id(store, experiment_id)
    else:
        sweep_id = sweep
    if sweep_id is None:
        raise ReportError(f"experiment {experiment!r} has no runs yet: run `python -m harness.run` first")
    # Two of its runs say whether it is a single run; the whole sweep is read once, by `sweep_runs`.
    runs = first_runs_of_sweep(store, experiment_id, sweep_id)
    if not runs and (named := sweep_of_run(store, experiment_id, sweep_id)) is not None:
        sweep_id, runs = named  # a run id (the sweep's parent run, or one of its jobs)
    if not runs:
        recent = ", ".join(recent_sweep_ids(store, experiment_id)) or "none"
        raise ReportError(f"no sweep {sweep_id!r} in experiment {experiment!r}; recent sweeps: {recent}")
    if not store.count_sweep_jobs(experiment_id, sweep_id, at_most=1):  # its own, or runs a resume reused
        raise ReportError(f"sweep {sweep_id!r} has no job runs (none started): nothing to report")
    parents = store.search_runs(
        experiment_id, f"tags.{Tags.SWEEP_ID} = '{sweep_id}' and tags.{Tags.ROLE} = '{Tags.ROLE_SWEEP}'"
    )
    root = root_run([*parents, *runs])
    tags = (root or runs[0]).data.tags
    swept_keys = json.loads(tags.get(Tags.SWEPT_KEYS) or "[]")
    return Sweep(
        tracking_uri=uri,
        experiment=experiment,
        experiment_id=experiment_id,
        sweep_id=sweep_id,
        root_run_id=root.info.run_id if root else None,
        swept_keys=tuple(swept_keys),
        overrides=tags.get(Tags.OVERRIDES, ""),
        setting_columns=setting_columns(swept_keys),
        picked=picked,
    )


def sweep_of_run(store: Tracker, experiment_id: str, run_id: str) -> tuple[str, list[Run]] | None:
    """The sweep id and runs of the sweep the run `run_id` belongs to; None when no such run is in
    the experiment."""
    try:
        run = store.run(run_id)
    except MlflowException:
        return None
    sweep_id = run.data.tags.get(Tags.SWEEP_ID)
    if run.info.experiment_id != experiment_id or not sweep_id:
        return None
    return sweep_id, first_runs_of_sweep(store, experiment_id, sweep_id)


def first_runs_of_sweep(store: Tracker, experiment_id: str, sweep_id: str) -> list[Run]:
    """The first two runs of the sweep, in the store's order: enough to tell a single run."""
    return list(store.search_runs(experiment_id, f"tags.{Tags.SWEEP_ID} = '{sweep_id}'", at_most=2))


def root_run(runs: list[Run]) -> Run | None:
    """The sweep's parent run (its parents first in `runs`), or the run itself when the sweep is a
    single run (`runs` holds no parent and only that run)."""
    parents = [run for run in runs if run.data.tags.get(Tags.ROLE) == Tags.ROLE_SWEEP]
    if parents:
        return parents[0]
    return runs[0] if len(runs) == 1 else None


def latest_sweep_ids(store: Tracker, experiment_id: str, count: int) -> list[str]:
    """The ids of the newest `count` sweeps of more than one job, newest first (fewer if there are not
    as many)."""
    found: list[str] = []
    for parent in store.search_runs(experiment_id, f"tags.{Tags.ROLE} = '{Tags.ROLE_SWEEP}'", True):
        sweep_id = parent.data.tags.get(Tags.SWEEP_ID)
        if sweep_id and store.count_sweep_jobs(experiment_id, sweep_id, at_most=2) >= 2:
            found.append(sweep_id)
        if len(found) == count:
            break
    return found


def latest_sweep_id(store: Tracker, experiment_id: str) -> tuple[str | None, str]:
    """The newest sweep of more than one job, else the newest run's sweep; and which of the two it is."""
    for sweep_id in latest_sweep_ids(store, experiment_id, 1):
        return sweep_id, "the latest sweep of more than one job"
    newest = next(store.search_runs(experiment_id, "", newest_first=True), None)
    if newest is None:
        return None, ""
    return newest.data.tags.get(Tags.SWEEP_ID), "the latest run (no sweep of more than one job yet)"


def recent_sweep_ids(store: Tracker, experiment_id: str) -> list[str]:
    """The ids of the most recent sweeps, newest first, for an error message."""
    ids: list[str] = []
    for run in store.search_runs(experiment_id, "", newest_first=True):
        sweep_id = run.data.tags.get(Tags.SWEEP_ID)
        if sweep_id and sweep_id not in ids:
            ids.append(sweep_id)
        if len(ids) == RECENT_SWEEPS_SHOWN:
            break
    return ids


def typed(values: pd.Series) -> pd.Series:
    """MLflow params come back as strings: numbers become numbers, True/False booleans, the rest stays."""
    present = values.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    if len(present) and numbers.notna().all():
        return pd.to_numeric(values)
    if len(present) and present.isin(["True", "False"]).all():
        return values.map({"True": True, "False": False})
    return values


def run_record(run: Run) -> dict:
    """One run as a flat dict: identity and status, project tags, typed-later params, final metrics."""
    tags = run.data.tags
    record = {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "start_time": pd.to_datetime(run.info.start_time, unit="ms"),
        "artifact_uri": run.info.artifact_uri,
    }
    record.update({column: tags.get(tag) for tag, column in PROJECT_TAGS.items()})
    record.update(run.data.params)
    record.update(run.data.metrics)
    return record


def format_value(value: object) -> str:
    """A param value as a person writes it: 0.001, 1e-05, 64, adamw."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def assignments(keys: list[str], values: tuple) -> str:
    """`lr=0.001 width=64`: how a setting is named in tables and legends."""
    return " ".join(f"{key}={format_value(value)}" for key, value in zip(keys, values, strict=True))


def setting_labels(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """Each row's setting label (`assignments` of its values of `keys`)."""
    if not keys:
        return [ALL_RUNS_LABEL] * len(frame)
    return [assignments(keys, values) for values in frame[keys].itertuples(index=False, name=None)]


def runs_frame(runs: list[Run], setting_keys: list[str]) -> pd.DataFrame:
    """The runs as a DataFrame, params typed back, metrics and the setting label always present."""
    frame = pd.DataFrame([run_record(run) for run in runs])
    names = param_names(runs)
    frame = frame.assign(**{name: typed(frame[name]) for name in names})
    for key in setting_keys:
        if key not in frame and group_param(key, names) in frame:
            frame[key] = frame[group_param(key, names)]
    frame["failure_step"] = pd.to_numeric(frame["failure_step"]).astype("Int64")
    for column in [*FINAL_METRICS, SEED_KEY, *setting_keys]:
        if column not in frame:
            frame[column] = np.nan
    frame["setting"] = setting_labels(frame, setting_keys)
    return frame.sort_values([*setting_keys, SEED_KEY, "start_time"], key=by_value, ignore_index=True)


def param_names(runs: list[Run]) -> set[str]:
    return {name for run in runs for name in run.data.params}


def sweep_runs(sweep: Sweep) -> pd.DataFrame:
    """The job runs of a resolved sweep (its parent run is not a job and is left out)."""
    store, _ = open_reader(sweep.tracking_uri)
    jobs = store.sweep_job_runs(sweep.experiment_id, sweep.sweep_id)  # with the runs a resume reused
    return runs_frame(list(jobs), sweep.setting_keys)


def sweep_curves(
    sweep: Sweep, runs: pd.DataFrame, metric: str = "loss", damaged: dict[str, str] | None = None
) -> pd.DataFrame:
    """Each run's `metric` at every step in long format: run_id, setting, seed, step, and the value.

    Read in bulk from the runs' `curve.npz` artifacts (every step, whatever `log_every_n_steps` was);
    a run without one (stopped from outside, or logged before it existed), or with one that cannot be
    read (put in `damaged`: run id, why), gives its metric history.
    """
    store, _ = open_reader(sweep.tracking_uri)
    ordered = runs.sort_values(["setting", SEED_KEY, "start_time"])
    uris = dict(zip(ordered["run_id"], ordered["artifact_uri"], strict=True))
    stored = store.read_npz(uris, CURVE_FILE, damaged)
    pieces = []
    for run_id in ordered["run_id"]:
        arrays = stored.get(run_id, {})
        if metric in arrays:
            steps, values = np.arange(len(arrays[metric])), arrays[metric]
        else:
            history = store.metric_history(run_id, metric)
            steps, values = [point.step for point in history], [point.value for point in history]
        pieces.append(pd.DataFrame({"run_id": run_id, "step": steps, metric: values}))
    columns = ["run_id", "step", metric]
    curves = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=columns)
    labels = runs[["run_id", "setting", SEED_KEY, *sweep.setting_keys]]
    return curves.merge(labels, on="run_id", sort=False).sort_values(
        ["setting", SEED_KEY, "step"], ignore_index=True, kind="stable"
    )


def load_fit(tracking_uri: str, run_id: str) -> dict[str, np.ndarray] | None:
    """The run's `fit.npz` (x, y_pred, y_target), or None when the run logged none; DamagedArtifact
    when it is there but cannot be read."""
    store, _ = open_reader(tracking_uri)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            path = store.download_artifact(run_id, "fit.npz", Path(scratch))
        except (MlflowException, OSError):
            return None
        return read_arrays(path)


def load_runs(
    experiment: str | None = None, sweep: str = LATEST, tracking_uri: str | None = None
) -> pd.DataFrame:
    """One row per job run of the sweep: run_id, status, params typed back, final metrics, tags.

    Defaults: the latest sweep of the runner's experiment in the runner's store.
    """
    return sweep_runs(find_sweep(experiment, sweep, tracking_uri))


def load_curves(
    experiment: str | None = None, sweep: str = LATEST, tracking_uri: str | None = None, metric: str = "loss"
) -> pd.DataFrame:
    """Every run's `loss` at every step (or another `metric`'s history) in long format, one row per run
    and step."""
    found = find_sweep(experiment, sweep, tracking_uri)
    return sweep_curves(found, sweep_runs(found), metric)
