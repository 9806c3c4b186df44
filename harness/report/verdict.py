"""The verdict: which setting won, by how much over the runner-up, and whether that gap is larger than
what changing the seed alone does (Welch's t-test when both have two seeds or more)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.render import number
from harness.analysis.summary import RANK_METRIC
from harness.tracking import FINISHED

SIGNIFICANCE = 0.05  # a Welch p-value below this: the gap exceeds the seed-to-seed spread


@dataclass(frozen=True)
class Standing:
    """One setting's place in the verdict."""

    setting: str
    mean: float
    std: float  # NaN with one seed
    values: tuple[float, ...]  # eval_mse of each finished seed that has one

    @property
    def n(self) -> int:
        """The seeds the mean is over: a finished run without a score (NaN) is not one of them."""
        return len(self.values)


@dataclass(frozen=True)
class Comparison:
    best: Standing
    runner_up: Standing | None
    p_value: float | None  # Welch's t-test of best vs runner-up; None when either has one seed

    @property
    def gap(self) -> float | None:
        return None if self.runner_up is None else self.runner_up.mean - self.best.mean

    @property
    def tested(self) -> bool:
        return self.p_value is not None

    @property
    def gap_exceeds_spread(self) -> bool | None:
        """True/False when tested, None when a seed count of one leaves the spread unknown."""
        if self.p_value is None:
            return None
        return bool(self.p_value < SIGNIFICANCE)


def standing(row: pd.Series, runs: pd.DataFrame) -> Standing:
    mine = runs[(runs["setting"] == row["setting"]) & (runs["status"] == FINISHED)]
    values = tuple(float(value) for value in mine[RANK_METRIC].dropna())
    return Standing(row["setting"], row[f"{RANK_METRIC}_mean"], row[f"{RANK_METRIC}_std"], values)


def welch_p_value(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Welch's two-sided t-test, as `scipy.stats.ttest_ind(a, b, equal_var=False).pvalue`, from the
    t distribution's CDF in `scipy.special`: it loads in a fifth of the time `scipy.stats` takes (~0.3 s
    against ~1.5 s), and every report of a sweep with seeds pays it."""
    from scipy.special import stdtr

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    if va + vb == 0:  # no spread on either side: t is infinite, or 0 / 0 when the means are equal
        return math.nan if x.mean() == y.mean() else 0.0
    t = (x.mean() - y.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(x) - 1) + vb**2 / (len(y) - 1))  # Welch-Satterthwaite
    return float(2 * stdtr(df, -abs(t)))


def compare(runs: pd.DataFrame, summary: pd.DataFrame) -> Comparison | None:
    """Best and runner-up settings by mean eval_mse over seeds; None when nothing finished."""
    ranked = summary.dropna(subset=[f"{RANK_METRIC}_mean"])
    if ranked.empty:
        return None
    best = standing(ranked.iloc[0], runs)
    runner_up = standing(ranked.iloc[1], runs) if len(ranked) > 1 else None
    p_value = None
    if runner_up is not None and best.n >= 2 and runner_up.n >= 2:
        p_value = welch_p_value(best.values, runner_up.values)
        if math.isnan(p_value):  # no spread at all on either side: any gap is larger than it
            p_value = 0.0 if runner_up.mean != best.mean else 1.0
    return Comparison(best, runner_up, p_value)


def mean_over_seeds(entry: Standing) -> str:
    if entry.n == 1:
        return f"{number(entry.mean)} (1 seed)"
    return f"{number(entry.mean)} ± {number(entry.std)} (mean ± std over {entry.n} seeds)"


def uncertainty(comparison: Comparison) -> str:
    best, runner_up = comparison.best, comparison.runner_up
    assert runner_up is not None
    if not comparison.tested:
        if best.n == 1 and runner_up.n == 1:
            return (
                "Only one seed per setting: the seed-to-seed spread is unknown, so this gap is untested "
                "(add seed=0,1,2 to the sweep to test it)."
            )
        return "One of the two has a single finished seed: the gap cannot be tested against the spread."
    p = f"Welch's t-test p = {comparison.p_value:.2g}"
    if comparison.gap_exceeds_spread:
        return f"The gap exceeds the seed-to-seed spread ({p})."
    return f"The gap is within the seed-to-seed spread ({p}): these two are not told apart by this sweep."


def verdict(runs: pd.DataFrame, summary: pd.DataFrame) -> str:
    """What a reader wants first: which setting won, by how much, and whether that is more than noise."""
    n_failed = int((runs["status"] != FINISHED).sum())
    comparison = compare(runs, summary)
    if comparison is None:
        return (
            f"No run finished: every run diverged or failed ({n_failed} of {n_failed}). "
            "Their reasons are listed below."
        )
    best, runner_up = comparison.best, comparison.runner_up
    sentence = f"Best setting: {best.setting}, {RANK_METRIC} {mean_over_seeds(best)}."
    if runner_up is not None:
        ratio = runner_up.mean / best.mean if best.mean > 0 else math.inf
        sentence += (
            f" Runner-up: {runner_up.setting}, {mean_over_seeds(runner_up)}; gap {number(comparison.gap)}"
            f" (the runner-up's {RANK_METRIC} is {ratio:.3g}x the best's). {uncertainty(comparison)}"
        )
    if n_failed:
        sentence += f" {n_failed} of {len(runs)} runs did not finish (listed below)."
    return sentence
