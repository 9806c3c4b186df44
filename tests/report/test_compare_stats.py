"""The compare's statistics on small frames: which test, its interval and p-value, and the outcome."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.compare.stats import BETTER, NOISE, UNTESTED, WORSE, compare_metric


def runs(seeds: list[int], values: list[float], status: str = "FINISHED") -> pd.DataFrame:
    return pd.DataFrame({"seed": seeds, "eval_mse": values, "status": status})


def test_matching_seeds_get_the_paired_test_and_its_interval():
    a, b = [1.0, 2.0, 3.0, 4.0], [0.5, 1.7, 2.4, 3.6]
    change = compare_metric("s", "eval_mse", runs([0, 1, 2, 3], a), runs([0, 1, 2, 3], b))
    expected = stats.ttest_rel(b, a)
    assert change.test == "paired t-test (4 seeds)"
    assert change.p_value == pytest.approx(expected.pvalue)
    differences = np.subtract(b, a)
    half = stats.t.ppf(0.975, 3) * differences.std(ddof=1) / 2
    assert (change.low, change.high) == pytest.approx((differences.mean() - half, differences.mean() + half))
    assert change.outcome == BETTER and change.difference == pytest.approx(differences.mean())


def test_seeds_that_do_not_match_get_welchs_test():
    a, b = [1.0, 1.1, 0.9], [2.0, 2.2, 1.9]
    change = compare_metric("s", "eval_mse", runs([0, 1, 2], a), runs([3, 4, 5], b))
    assert change.test == "Welch's t-test (3 vs 3 runs)"
    assert change.p_value == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)
    assert change.outcome == WORSE and change.low > 0


def test_a_difference_smaller_than_the_seed_spread_is_noise():
    a, b = runs([0, 1, 2], [1.0, 5.0, 3.0]), runs([0, 1, 2], [1.2, 4.6, 3.1])
    change = compare_metric("s", "eval_mse", a, b)
    assert change.outcome == NOISE and change.low < 0 < change.high


def test_the_same_values_on_both_sides_are_no_difference_with_no_spread_needed():
    values = [1.0, 2.0, 3.0]
    change = compare_metric("s", "eval_mse", runs([0, 1, 2], values), runs([0, 1, 2], values))
    assert change.identical and change.outcome == NOISE
    assert (change.difference, change.low, change.high, change.p_value) == (0, 0, 0, 1)


def test_one_finished_seed_a_side_is_untested_and_failed_runs_do_not_count():
    b = pd.concat([runs([0], [1.0]), runs([1], [float("nan")], status="FAILED")])
    change = compare_metric("s", "eval_mse", runs([0, 1], [2.0, 2.5]), b)
    assert change.outcome == UNTESTED and math.isnan(change.p_value) and len(change.b) == 1
    assert change.difference == pytest.approx(1.0 - 2.25)


@pytest.mark.parametrize("sizes", [(2, 2), (2, 5), (3, 4), (10, 3)])
def test_the_reports_light_welch_test_gives_scipys_p_value(sizes):
    from harness.report.verdict import welch_p_value

    rng = np.random.default_rng(sum(sizes))
    for _ in range(50):
        a, b = rng.lognormal(size=sizes[0]), rng.lognormal(size=sizes[1]) * rng.uniform(0.5, 2)
        expected = stats.ttest_ind(a, b, equal_var=False).pvalue
        assert welch_p_value(tuple(a), tuple(b)) == pytest.approx(expected, rel=1e-9)


def test_the_reports_welch_test_without_any_spread_is_scipys_too():
    from harness.report.verdict import welch_p_value

    assert welch_p_value((1.0, 1.0), (2.0, 2.0)) == 0.0  # any gap exceeds no spread at all
    assert math.isnan(welch_p_value((1.0, 1.0), (1.0, 1.0)))
    assert welch_p_value((1.0, 1.0), (2.0, 3.0)) == pytest.approx(
        stats.ttest_ind((1.0, 1.0), (2.0, 3.0), equal_var=False).pvalue
    )
