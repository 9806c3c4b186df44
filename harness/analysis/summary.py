"""Aggregate a sweep's runs over seeds with pandas: one row per setting, the failures, the curve bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.data import SEED_KEY
from harness.curves import smooth
from harness.tracking import FINISHED

SUMMARY_METRICS = ["final_loss", "eval_mse"]
RANK_METRIC = "eval_mse"
CURVE_SMOOTHING_FRACTION = 1 / 50  # rolling window as a fraction of the steps
EXTREME_COLUMNS = [SEED_KEY, RANK_METRIC, "run_id"]
FAILURE_COLUMNS = ["setting", SEED_KEY, "status", "failure_step", "failure_reason", "run_id"]


def group_columns(setting_keys: list[str]) -> list[str]:
    """Group by the swept keys; with none (a single run, or seeds only) every run is one setting."""
    return ["setting", *setting_keys]


def summarize(runs: pd.DataFrame, setting_keys: list[str]) -> pd.DataFrame:
    """One row per setting, best first: n finished, n_failed, mean and std of the metrics, best/worst seed.

    Means and seeds count FINISHED runs only; settings where nothing finished come last.
    """
    by = group_columns(setting_keys)
    runs = runs.assign(failed=runs["status"] != FINISHED)
    finished = runs[~runs["failed"]]
    counts = runs.groupby(by, dropna=False).agg(n_failed=("failed", "sum"))
    aggregates = {"n": ("run_id", "size")}
    for metric in SUMMARY_METRICS:
        aggregates[f"{metric}_mean"] = (metric, "mean")
        aggregates[f"{metric}_std"] = (metric, "std")
    stats = finished.groupby(by, dropna=False).agg(**aggregates)
    ranked = finished.dropna(subset=[RANK_METRIC]).sort_values(RANK_METRIC)
    extremes = ranked.groupby(by, dropna=False)[EXTREME_COLUMNS]
    best = extremes.first().rename(columns=lambda column: f"best_{column}")
    worst = extremes.last().rename(columns=lambda column: f"worst_{column}")
    summary = counts.join([stats, best, worst]).reset_index()
    summary["n"] = summary["n"].fillna(0).astype(int)
    summary["n_failed"] = summary["n_failed"].astype(int)
    for end in ("best", "worst"):  # seeds are integers, also where a setting has none (NaN -> <NA>)
        summary[f"{end}_{SEED_KEY}"] = pd.to_numeric(summary[f"{end}_{SEED_KEY}"]).astype("Int64")
    summary = summary.sort_values([f"{RANK_METRIC}_mean", "final_loss_mean"], na_position="last")
    return summary.reset_index(drop=True).pipe(order_columns, by)


def order_columns(summary: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Keys first, then counts, then each metric's mean and std, then the best and worst seeds."""
    metric_columns = [f"{metric}_{stat}" for metric in SUMMARY_METRICS for stat in ("mean", "std")]
    extreme_columns = [f"{end}_{column}" for end in ("best", "worst") for column in EXTREME_COLUMNS]
    return summary.reindex(columns=[*by, "n", "n_failed", *metric_columns, *extreme_columns])


def failures(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not finish (diverged, raised or killed), with their step and reason."""
    failed = runs[runs["status"] != FINISHED]
    return failed.reindex(columns=FAILURE_COLUMNS).sort_values(["setting", SEED_KEY], ignore_index=True)


def one_seed_per_setting(runs: pd.DataFrame, setting_keys: list[str]) -> bool:
    """True when no setting was run with more than one seed: there is no seed-to-seed spread to show."""
    return bool(runs.groupby(group_columns(setting_keys), dropna=False).size().max() <= 1)


def curve_bands(curves: pd.DataFrame, metric: str = "loss") -> pd.DataFrame:
    """Per setting and step: the median over seeds and the min-max band, smoothed by a rolling geometric mean.

    Non-finite values (a diverged run's last steps) are dropped, so the band ends where the seeds died.
    """
    finite = curves[np.isfinite(curves[metric])]
    bands = finite.groupby(["setting", "step"])[metric].agg(["median", "min", "max"]).reset_index()
    if bands.empty:
        return bands
    window = smoothing_window(int(bands["step"].max()) + 1)
    smoothed = bands.groupby("setting")[["median", "min", "max"]].transform(smooth_on_log_scale, window)
    return bands.assign(**smoothed)


def smoothing_window(steps: int) -> int:
    """The rolling window of the report's loss curves, for a curve of `steps` steps."""
    return max(1, round(steps * CURVE_SMOOTHING_FRACTION))


def smooth_on_log_scale(values: pd.Series, window: int) -> np.ndarray:
    """The rolling mean of log10(values) (a geometric mean), as the log axis shows it: one spike of 1e30
    then does not lift the next `window` steps to 1e28. Plain rolling mean if a value is not positive."""
    if (values <= 0).any():
        return smooth(values, window)
    return 10 ** smooth(np.log10(values), window)


def best_and_worst_runs(runs: pd.DataFrame, summary: pd.DataFrame) -> dict[str, pd.Series]:
    """The best seed's run of the best setting and of the worst setting that finished, by name."""
    ranked = summary.dropna(subset=["best_run_id"])
    picks = {"best": ranked.head(1), "worst": ranked.iloc[1:].tail(1)}
    by_id = runs.set_index("run_id", drop=False)
    return {name: by_id.loc[pick["best_run_id"].iloc[0]] for name, pick in picks.items() if len(pick)}
