"""Per paired setting and metric: A and B over seeds, the difference B - A with its 95% interval, and
a t-test: paired over the seeds when both sweeps finished the same seeds, Welch's otherwise. Lower is
better for every metric compared (losses and errors)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.data import SEED_KEY
from harness.analysis.render import number
from harness.analysis.summary import RANK_METRIC, SUMMARY_METRICS
from harness.compare.pairing import Pairing
from harness.tracking import FINISHED

CONFIDENCE = 0.95
SIGNIFICANCE = 1 - CONFIDENCE  # p below this: the change exceeds what the seeds alone do

COMPARED_METRICS = [RANK_METRIC, *(metric for metric in SUMMARY_METRICS if metric != RANK_METRIC)]
BETTER, WORSE, NOISE, UNTESTED = "better", "worse", "within seed noise", "untested"


@dataclass(frozen=True)
class Change:
    """One metric of one paired setting, A against B."""

    setting: str
    metric: str
    a: np.ndarray  # the finished seeds' values, in seed order
    b: np.ndarray
    test: str  # `paired t-test (3 seeds)`, `Welch's t-test`, or why none
    difference: float  # mean(B) - mean(A)
    low: float  # the 95% interval of the difference (NaN when untested)
    high: float
    p_value: float  # NaN when untested

    @property
    def outcome(self) -> str:
        if math.isnan(self.p_value):
            return UNTESTED
        if self.p_value >= SIGNIFICANCE or self.difference == 0:
            return NOISE
        return BETTER if self.difference < 0 else WORSE

    @property
    def identical(self) -> bool:
        return len(self.a) == len(self.b) > 0 and bool(np.array_equal(self.a, self.b))

    @property
    def ratio(self) -> float:
        """mean(B) / mean(A): how many times A's value B has."""
        mean_a = float(np.mean(self.a)) if len(self.a) else math.nan
        return float(np.mean(self.b)) / mean_a if mean_a > 0 and len(self.b) else math.nan


def finished_values(runs: pd.DataFrame, metric: str) -> pd.Series:
    """`metric` of the finished runs, by seed."""
    done = runs[(runs["status"] == FINISHED) & runs[metric].notna()]
    return done.set_index(SEED_KEY)[metric].sort_index()


def without_spread(difference: float) -> tuple[float, float, float]:
    """Every seed gives the same difference: the interval is that point, and any non-zero difference
    exceeds a spread of zero."""
    return difference, difference, 1.0 if difference == 0 else 0.0


def paired(a: pd.Series, b: pd.Series) -> tuple[float, float, float]:
    differences = (b - a).to_numpy(dtype=float)
    if np.ptp(differences) == 0:
        return without_spread(float(differences[0]))
    from scipy import stats  # ~1 s to import: loaded when a comparison is made, not with the report

    result = stats.ttest_rel(b.to_numpy(dtype=float), a.to_numpy(dtype=float))
    interval = result.confidence_interval(CONFIDENCE)
    return float(interval.low), float(interval.high), float(result.pvalue)


def welch(a: pd.Series, b: pd.Series) -> tuple[float, float, float]:
    if a.nunique() == 1 and b.nunique() == 1:
        return without_spread(float(b.iloc[0] - a.iloc[0]))
    from scipy import stats

    result = stats.ttest_ind(b.to_numpy(dtype=float), a.to_numpy(dtype=float), equal_var=False)
    interval = result.confidence_interval(CONFIDENCE)
    return float(interval.low), float(interval.high), float(result.pvalue)


def compare_metric(setting: str, metric: str, runs_a: pd.DataFrame, runs_b: pd.DataFrame) -> Change:
    a, b = finished_values(runs_a, metric), finished_values(runs_b, metric)
    difference = float(b.mean() - a.mean()) if len(a) and len(b) else math.nan
    low = high = p_value = math.nan
    same_seeds = a.index.is_unique and b.index.is_unique and list(a.index) == list(b.index)
    if len(a) < 2 or len(b) < 2:
        test = "none: a side has fewer than 2 finished seeds"
    elif same_seeds:
        test = f"paired t-test ({len(a)} seeds)"
        low, high, p_value = paired(a, b)
    else:
        test = f"Welch's t-test ({len(a)} vs {len(b)} runs)"
        low, high, p_value = welch(a, b)
    return Change(setting, metric, a.to_numpy(), b.to_numpy(), test, difference, low, high, p_value)


def compare_settings(pairing: Pairing) -> list[Change]:
    """Every metric of every paired setting, in the order of `pairing.shared`."""
    changes = []
    for setting in pairing.shared:
        runs_a, runs_b = pairing.runs_of(pairing.a, setting), pairing.runs_of(pairing.b, setting)
        label = pairing.label(setting)
        changes += [compare_metric(label, metric, runs_a, runs_b) for metric in COMPARED_METRICS]
    return changes


def scored(changes: list[Change]) -> list[Change]:
    """The changes of the score (the metric the sweep report ranks by), one per setting."""
    return [change for change in changes if change.metric == RANK_METRIC]


def biggest(changes: list[Change], count: int = 3) -> list[Change]:
    """The score's changes beyond seed noise, largest factor first (a halving ranks with a doubling)."""
    tested = [change for change in scored(changes) if change.outcome in (BETTER, WORSE)]
    return sorted(tested, key=lambda change: -abs(math.log(change.ratio)) if change.ratio > 0 else 0)[:count]


def named_change(change: Change) -> str:
    mean_a, mean_b = float(np.mean(change.a)), float(np.mean(change.b))
    # the difference too: a change below three digits (1e-5 on 2.9) would read "2.9 → 2.9 (1x)"
    return (
        f"{change.setting}: {number(mean_a)} → {number(mean_b)} (B − A = {mean_b - mean_a:+.3g}, "
        f"{number(change.ratio)}x, p = {change.p_value:.2g})"
    )


def verdict(pairing: Pairing, changes: list[Change]) -> str:
    """`B better in 7 of 12 settings, worse in 1, 4 within seed noise` on the score, the biggest
    changes named, and what only one sweep ran."""
    score = scored(changes)
    if pairing.best_found:
        change = score[0]
        return f"Searches compared by what each found: {pairing.best_found}. B's best is {change.outcome}" + (
            f" ({named_change(change)})." if change.outcome in (BETTER, WORSE) else "."
        )
    counts = {
        outcome: sum(change.outcome == outcome for change in score)
        for outcome in (BETTER, WORSE, NOISE, UNTESTED)
    }
    sentence = (
        f"B better in {counts[BETTER]} of {len(score)} settings, worse in {counts[WORSE]}, "
        f"{counts[NOISE]} within seed noise"
    )
    if counts[UNTESTED]:
        sentence += f", {counts[UNTESTED]} untested (fewer than 2 finished seeds a side)"
    sentence += f" ({RANK_METRIC}, mean over seeds, {CONFIDENCE:.0%} level)."
    if score and all(change.identical for change in score):
        sentence += " Every paired run gave the same value in A and B: no difference at all."
    named = biggest(changes)
    if named:
        sentence += " Biggest changes: " + "; ".join(named_change(change) for change in named) + "."
    only = []
    if pairing.only_a:
        only.append(f"{len(pairing.only_a)} only in A")
    if pairing.only_b:
        only.append(f"{len(pairing.only_b)} only in B")
    if only:
        sentence += f" Not paired: {', '.join(only)} (listed below)."
    return sentence
