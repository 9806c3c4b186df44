"""Read two sweeps from the store and pair the settings they share.

A setting is a run's resolved config (its params) without the seed and the bookkeeping keys; the code
version is a tag, not a param, so a sweep rerun after an engine edit shares every setting with the
first. `--by KEY` pairs on the named keys only (`--by lr` pairs `optimizer=adamw lr=0.01` with
`optimizer=seed_adamw lr=0.01`). Everything is read here, before anything is drawn or written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow.entities import Run

from harness.checks.schema import BOOKKEEPING_KEYS
from harness.curves import CURVE_FILE
from harness.report.data import (
    ALL_RUNS_LABEL,
    SEED_KEY,
    ReportError,
    Sweep,
    find_sweep,
    format_value,
    latest_sweep_ids,
    open_reader,
    runs_frame,
    value_order,
)
from harness.report.summary import RANK_METRIC
from harness.tracking import DEFAULT_EXPERIMENT, FINISHED, Tags

# What is not a setting: the keys that say where or how a run was recorded, and the seed (averaged over).
NOT_A_SETTING = {SEED_KEY, *BOOKKEEPING_KEYS}
MISSING_VALUE = "(not set)"
BEST_FOUND, OTHER_TRIALS = ("best found",), ("another trial",)  # a search's runs, when best-found is compared


@dataclass(frozen=True)
class Side:
    """One of the two sweeps: where it is, its job runs (one row each, with `match`: the setting's
    values on the pairing keys as stored), and every run's loss at every step."""

    sweep: Sweep
    runs: pd.DataFrame
    curves: dict[str, np.ndarray]  # run id: loss per step (curve.npz)

    @property
    def code_version(self) -> str:
        versions = sorted(set(self.runs["code_version"].dropna()))
        return ", ".join(versions) or "unknown"


@dataclass(frozen=True)
class Pairing:
    """The two sweeps, the keys that make a setting, and which settings each has."""

    a: Side
    b: Side
    keys: list[str]  # the pairing keys: every config key, or the --by keys
    by: list[str]  # the --by keys (empty: the whole config)
    shared: list[tuple]  # settings in both, in the order the report shows them
    only_a: list[tuple]
    only_b: list[tuple]
    changed: dict[str, tuple[str, str]]  # a key whose values differ between the sweeps: (A's, B's)
    label_keys: list[str]  # the pairing keys whose value differs between settings: what names one
    best_found: str = ""  # two searches with no setting in common: which best trials are compared

    def label(self, setting: tuple) -> str:
        if self.best_found:
            return BEST_FOUND[0]
        values = dict(zip(self.keys, setting, strict=True))
        shown = [f"{key}={values[key]}" for key in self.label_keys]
        return " ".join(shown) or ALL_RUNS_LABEL

    def runs_of(self, side: Side, setting: tuple) -> pd.DataFrame:
        return side.runs[side.runs["match"] == setting]


def job_runs(sweep: Sweep) -> list[Run]:
    store, _ = open_reader(sweep.tracking_uri)
    return store.sweep_job_runs(sweep.experiment_id, sweep.sweep_id)


def config_keys(runs: list[Run]) -> set[str]:
    return {name for run in runs for name in run.data.params} - NOT_A_SETTING


def side_frame(sweep: Sweep, runs: list[Run], keys: list[str]) -> pd.DataFrame:
    """The runs as the report reads them, with `match`: the stored values of `keys` (MLflow keeps
    params as the strings they were logged as, so equal configs give equal tuples)."""
    frame = runs_frame(runs, sweep.setting_keys)
    stored = {run.info.run_id: tuple(run.data.params.get(key, MISSING_VALUE) for key in keys) for run in runs}
    frame["match"] = frame["run_id"].map(stored)
    if "code_version" not in frame:
        frame["code_version"] = [run.data.tags.get(Tags.CODE_VERSION) for run in runs]
    return frame


def read_curves(side_sweep: Sweep, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every finished run's curve.npz; a run whose file is gone or cannot be read is one line,
    naming it and what is missing."""
    store, _ = open_reader(side_sweep.tracking_uri)
    finished = frame[frame["status"] == FINISHED]
    damaged: dict[str, str] = {}
    arrays = store.read_npz(
        dict(zip(finished["run_id"], finished["artifact_uri"], strict=True)), CURVE_FILE, damaged
    )
    for _, run in finished.iterrows():
        if run["run_id"] in damaged or "loss" not in arrays.get(run["run_id"], {}):
            why = (
                damaged.get(run["run_id"])
                or f"{CURVE_FILE} is missing from its artifacts ({run['artifact_uri']})"
            )
            lost = len(set(finished["run_id"]) - set(arrays)) - 1
            more = f"; {lost} more run(s) of the sweep the same" if lost > 0 else ""
            raise ReportError(
                f"run {run['run_id']} ({run['run_name']}) of sweep {side_sweep.sweep_id}: {why}: "
                f"its artifacts are gone, so it cannot be compared{more}"
            )
    return {run_id: found["loss"] for run_id, found in arrays.items()}


def resolve_pair(
    experiment: str | None, a: str | None, b: str | None, tracking_uri: str | None
) -> tuple[Sweep, Sweep]:
    """The sweeps named (ids or run ids), or by default the two latest sweeps of more than one job:
    the older is A, the newer B."""
    if a is None or b is None:
        store, uri = open_reader(tracking_uri)
        experiment_id = store.find_experiment_id(experiment or DEFAULT_EXPERIMENT)
        latest = latest_sweep_ids(store, experiment_id, 2) if experiment_id is not None else []
        if len(latest) < 2:
            raise ReportError(
                f"--compare needs two sweeps of more than one job and the experiment has {len(latest)}: "
                "name them, --compare SWEEP_A SWEEP_B"
            )
        b, a = latest
    return find_sweep(experiment, a, tracking_uri), find_sweep(experiment, b, tracking_uri)


def changed_keys(keys: list[str], a: list[Run], b: list[Run]) -> dict[str, tuple[str, str]]:
    """The config keys whose sets of values differ between the sweeps' runs, with each side's values."""

    def values(runs: list[Run], key: str) -> str:
        return ", ".join(sorted({run.data.params.get(key, MISSING_VALUE) for run in runs}))

    return {key: (values(a, key), values(b, key)) for key in keys if values(a, key) != values(b, key)}


def no_shared_setting(a: Side, b: Side, keys: list[str], changed: dict) -> ReportError:
    """Say which keys keep the two sweeps apart, and which --by would pair them."""
    disjoint = {
        key: values
        for key, values in changed.items()
        if not set(values[0].split(", ")) & set(values[1].split(", "))
    }
    differ = "; ".join(f"{key} (A: {va}; B: {vb})" for key, (va, vb) in (disjoint or changed).items())
    swept = [key for key in a.sweep.setting_keys if key in b.sweep.setting_keys and key not in disjoint]
    common = swept or [key for key in keys if key not in disjoint][:1]
    hint = (
        f": pair them on what they share with {' '.join(f'--by {key}' for key in common)}" if common else ""
    )
    return ReportError(
        f"sweeps {a.sweep.sweep_id} and {b.sweep.sweep_id} share no setting: they differ in {differ}{hint}"
    )


def ordered(settings: set[tuple], frames: list[pd.DataFrame], keys: list[str]) -> list[tuple]:
    """Settings in the numeric order of their typed values (lr 0.001 before 0.01)."""
    rows: dict[tuple, pd.Series] = {}
    for frame in frames:
        for match, (_, row) in zip(frame["match"], frame.iterrows(), strict=True):
            rows.setdefault(match, row)
    return sorted(settings, key=lambda setting: [value_order(rows[setting].get(key)) for key in keys])


def pair_sweeps(
    experiment: str | None = None,
    a: str | None = None,
    b: str | None = None,
    by: list[str] | None = None,
    tracking_uri: str | None = None,
) -> Pairing:
    """Read sweeps A and B (ids, run ids, or the two latest) and pair their settings; ReportError
    (one line) for an unknown sweep, an unknown --by key, no shared setting, or a run whose curve is
    gone."""
    sweep_a, sweep_b = resolve_pair(experiment, a, b, tracking_uri)
    runs_a, runs_b = job_runs(sweep_a), job_runs(sweep_b)
    known = config_keys(runs_a) | config_keys(runs_b)
    by = list(dict.fromkeys(by or []))
    unknown = [key for key in by if key not in config_keys(runs_a) or key not in config_keys(runs_b)]
    if unknown:
        allowed = ", ".join(sorted(config_keys(runs_a) & config_keys(runs_b)))
        raise ReportError(f"--by {unknown[0]!r} is not a config key of both sweeps; keys: {allowed}")
    keys = by or sorted(known)
    frame_a, frame_b = side_frame(sweep_a, runs_a, keys), side_frame(sweep_b, runs_b, keys)
    settings_a, settings_b = set(frame_a["match"]), set(frame_b["match"])
    shared = settings_a & settings_b
    changed = changed_keys(sorted(known), runs_a, runs_b)
    if not shared and (best := best_found(frame_a, frame_b)) is not None:
        return best_found_pairing(Side(sweep_a, frame_a, {}), Side(sweep_b, frame_b, {}), by, changed, best)
    if not shared:
        apart = {key: values for key, values in changed.items() if key in keys}
        raise no_shared_setting(Side(sweep_a, frame_a, {}), Side(sweep_b, frame_b, {}), keys, apart)
    paired_a = frame_a[frame_a["match"].isin(shared)]
    paired_b = frame_b[frame_b["match"].isin(shared)]
    side_a = Side(sweep_a, frame_a, read_curves(sweep_a, paired_a))
    side_b = Side(sweep_b, frame_b, read_curves(sweep_b, paired_b))
    every = settings_a | settings_b
    label_keys = [key for index, key in enumerate(keys) if len({s[index] for s in every}) > 1]
    frames = [frame_a, frame_b]
    return Pairing(
        a=side_a,
        b=side_b,
        keys=keys,
        by=by,
        shared=ordered(shared, frames, keys),
        only_a=ordered(settings_a - shared, frames, keys),
        only_b=ordered(settings_b - shared, frames, keys),
        changed=changed,
        label_keys=label_keys,
    )


def best_trial(frame: pd.DataFrame) -> str | None:
    """The number of a search's best trial (lowest mean score over its finished seeds); None for a grid,
    or a search where no trial finished."""
    if "optuna_trial" not in frame or frame["optuna_trial"].isna().all():
        return None
    finished = frame[(frame["status"] == FINISHED) & frame[RANK_METRIC].notna()]
    if finished.empty:
        return None
    return finished.groupby("optuna_trial")[RANK_METRIC].mean().idxmin()


def best_found(frame_a: pd.DataFrame, frame_b: pd.DataFrame) -> tuple | None:
    """Two searches that tried no setting in common: their best trials, (A's, B's); else None."""
    best_a, best_b = best_trial(frame_a), best_trial(frame_b)
    return None if best_a is None or best_b is None else (best_a, best_b)


def best_found_pairing(a: Side, b: Side, by: list[str], changed: dict, best: tuple) -> Pairing:
    """Pair the best trial of search A with the best trial of search B, each over the seeds it was
    valued on, and say so: it compares what each search found, not one setting."""
    described = []
    for name, side, trial in (("A", a, best[0]), ("B", b, best[1])):
        runs = side.runs[side.runs["optuna_trial"] == trial]
        keys = [key for key in side.sweep.setting_keys if key in runs]
        values = " ".join(f"{key}={format_value(runs[key].iloc[0])}" for key in keys)
        described.append(f"{name}'s trial {trial} ({values})")
        side.runs["match"] = [BEST_FOUND if t == trial else OTHER_TRIALS for t in side.runs["optuna_trial"]]
    side_a = Side(a.sweep, a.runs, read_curves(a.sweep, a.runs[a.runs["match"] == BEST_FOUND]))
    side_b = Side(b.sweep, b.runs, read_curves(b.sweep, b.runs[b.runs["match"] == BEST_FOUND]))
    note = (
        f"the two searches tried no setting in common: compared are their best-found settings, "
        f"{described[0]} against {described[1]}, each over the seeds its trial was valued on (not "
        "held-out seeds)"
    )
    return Pairing(side_a, side_b, ["search"], by, [BEST_FOUND], [], [], changed, [], note)


def seeds_of(runs: pd.DataFrame) -> str:
    seeds = sorted(runs[SEED_KEY].dropna().unique())
    return ", ".join(format_value(seed) for seed in seeds) or "none"
