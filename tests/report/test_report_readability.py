"""What a person reads in the report: sharp figures with legible text, values in numeric order, one
y-range per figure, diverged runs drawn to where they stopped, tables and verdict that say only what the
data holds. Built from small frames shaped like a real sweep's, without a store."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from PIL import Image
from scipy import stats

from harness.analysis.data import by_value
from harness.analysis.figures import (
    MIN_FONT_POINTS,
    PIXEL_DENSITY,
    curve_panels,
    heatmap_figure,
    loss_curves_figure,
    report_style,
    sensitivity_figure,
    smallest_font_points,
)
from harness.analysis.render import display_summary, report_figure
from harness.analysis.summary import curve_bands, summarize
from harness.report.verdict import compare, verdict

BETAS = ["[0.9, 0.999]", "[0.5, 0.5]", "[0.9, 0.99]", "[0.99, 0.99]", "[0.9, 0.9]"]
NUMERIC_BETAS = ["[0.5, 0.5]", "[0.9, 0.9]", "[0.9, 0.99]", "[0.9, 0.999]", "[0.99, 0.99]"]
OPTIMIZERS = ["seed_adamw", "adamw"]
STEPS = 100
DIVERGED = ("[0.9, 0.999]", "seed_adamw", 40)  # betas, optimizer, failure step


def betas_runs(seeds: list[int]) -> pd.DataFrame:
    """A betas x optimizer sweep's runs (in the store's string order), one of them diverged."""
    rows = []
    rng = np.random.default_rng(0)
    for (betas, optimizer), seed in itertools.product(itertools.product(BETAS, OPTIMIZERS), seeds):
        diverged = (betas, optimizer) == DIVERGED[:2]
        mse = np.nan if diverged else float(rng.uniform(0.01, 1.0))
        rows.append(
            {
                "run_id": f"{betas}-{optimizer}-{seed}",
                "setting": f"betas={betas} optimizer={optimizer}",
                "betas": betas,
                "optimizer": optimizer,
                "seed": seed,
                "status": "FAILED" if diverged else "FINISHED",
                "failure_step": DIVERGED[2] if diverged else pd.NA,
                "failure_reason": "loss is inf" if diverged else None,
                "final_loss": mse,
                "eval_mse": mse,
            }
        )
    return pd.DataFrame(rows)


def curves_of(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run's loss: decaying from 1e6, or rising past 1e30 and then inf at its failure step."""
    points = []
    for run in runs.itertuples():
        steps = np.arange(STEPS if run.status == "FINISHED" else DIVERGED[2] + 1)
        losses = 1e6 * np.exp(-steps / 5.0) + 0.01 if run.status == "FINISHED" else 1e6 * 10.0**steps
        losses = np.where(steps == DIVERGED[2], np.inf, losses) if run.status != "FINISHED" else losses
        points += [(run.run_id, run.setting, run.seed, s, v) for s, v in zip(steps, losses, strict=True)]
    return pd.DataFrame(points, columns=["run_id", "setting", "seed", "step", "loss"])


@pytest.fixture(scope="module")
def one_seed():
    runs = betas_runs([0])
    return runs, summarize(runs, ["betas", "optimizer"])


@pytest.fixture(scope="module")
def three_seeds():
    runs = betas_runs([0, 1, 2])
    return runs, summarize(runs, ["betas", "optimizer"])


def loss_figure(runs, summary, **options):
    failed = runs[runs["status"] != "FINISHED"]
    return loss_curves_figure(
        curve_bands(curves_of(runs)), summary, ["betas", "optimizer"], failed, **options
    )


def test_list_values_sort_element_wise_not_as_strings():
    assert list(pd.Series(BETAS).sort_values(key=by_value)) == NUMERIC_BETAS
    assert list(pd.Series([10, 2, 1e-3]).sort_values(key=by_value)) == [1e-3, 2, 10]


def test_loss_panels_follow_numeric_order_and_legends_do_not_repeat_the_title(one_seed):
    _, summary = one_seed

    panels = curve_panels(summary, ["betas", "optimizer"])

    assert [title for title, _ in panels] == [f"betas={betas}" for betas in NUMERIC_BETAS]
    for _, members in panels:
        assert sorted(label for _, label in members) == [f"optimizer={name}" for name in sorted(OPTIMIZERS)]


def test_panels_of_the_same_settings_share_one_legend_under_them_that_covers_no_panel(one_seed):
    """A legend in every panel, of every setting of the other keys, covered the curves (the 256-run
    study: 16 entries a panel, spilling over the panel below); one legend under the panels says it once."""
    runs, summary = one_seed
    with report_style():
        figure = loss_figure(runs, summary, bands_drawn=False)
        figure.canvas.draw()
    panels = [ax for ax in figure.axes if ax.get_visible()]
    (legend,) = figure.legends
    box = legend.get_window_extent()
    plt.close(figure)

    assert all(ax.get_legend() is None for ax in panels)
    assert sorted(text.get_text() for text in legend.get_texts()) == [
        f"optimizer={o}" for o in sorted(OPTIMIZERS)
    ]
    assert not any(box.overlaps(ax.get_window_extent()) for ax in panels)
    assert figure.bbox.contains(box.x0, box.y0) and figure.bbox.contains(box.x1, box.y1)


def test_every_loss_panel_shares_one_log_y_range(one_seed):
    runs, summary = one_seed
    with report_style():
        figure = loss_figure(runs, summary, bands_drawn=False)
    limits = {ax.get_ylim() for ax in figure.axes if ax.get_visible()}
    plt.close(figure)

    assert len(limits) == 1
    (bottom, top), *_ = limits
    assert bottom <= 0.01 and top >= 1e6  # every finished curve, from its start to its floor, is inside


def test_a_diverged_run_is_drawn_to_its_last_finite_step_and_marked_where_it_stopped(one_seed):
    runs, summary = one_seed
    with report_style():
        figure = loss_figure(runs, summary, bands_drawn=False)
    (panel,) = [ax for ax in figure.axes if ax.get_title() == f"betas={DIVERGED[0]}"]
    top = panel.get_ylim()[1]
    lines = {line.get_label(): line for line in panel.get_lines()}
    plt.close(figure)

    curve = lines[f"optimizer={DIVERGED[1]} (diverged at step {DIVERGED[2]})"]
    assert curve.get_xdata().max() == DIVERGED[2] - 1  # up to the last finite loss, not cut at step 0
    assert np.allclose(curve.get_ydata()[-5:], top)  # values past the axis run along its top edge
    markers = [line for line in panel.get_lines() if line.get_marker() == "X"]
    assert [(list(m.get_xdata()), list(m.get_ydata())) for m in markers] == [([DIVERGED[2]], [top])]
    assert not markers[0].get_clip_on()


def test_one_seed_draws_no_band_and_several_seeds_do(one_seed, three_seeds):
    def bands_drawn(runs, summary, **options):
        with report_style():
            figure = loss_figure(runs, summary, **options)
        count = sum(len(ax.collections) for ax in figure.axes)
        plt.close(figure)
        return count

    assert bands_drawn(*one_seed, bands_drawn=False) == 0
    assert bands_drawn(*three_seeds, bands_drawn=True) > 0


@pytest.mark.parametrize("seeds", [[0], [0, 1, 2]])
def test_figures_are_twice_the_page_density_with_text_of_at_least_9_points(seeds):
    runs = betas_runs(seeds)
    lr_summary = summarize(runs.assign(lr=runs["seed"] * 0.0 + [1e-3, 1e-2] * (len(runs) // 2)), ["lr"])
    summary = summarize(runs, ["betas", "optimizer"])
    with report_style():
        figures = {
            "loss_curves": loss_figure(runs, summary),
            "heatmap": heatmap_figure(summary, ["betas", "optimizer"]),
            "sensitivity": sensitivity_figure(lr_summary, ["lr"]),
        }
        for name, figure in figures.items():
            assert smallest_font_points(figure) >= MIN_FONT_POINTS, name
            shown = report_figure(name, ("title", "caption"), figure)
            pixels = Image.open(io.BytesIO(shown.png)).size
            assert pixels == (shown.width * PIXEL_DENSITY, shown.height * PIXEL_DENSITY), name
            assert shown.width <= 1068  # fits the page's column at 100% zoom: not shrunk, text stays 9 pt


def test_heatmap_rows_are_in_numeric_order(one_seed):
    _, summary = one_seed
    with report_style():
        figure = heatmap_figure(summary, ["betas", "optimizer"])
    rows = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    plt.close(figure)

    assert rows == NUMERIC_BETAS


@pytest.mark.parametrize(("n_values", "joined"), [(2, False), (3, True)])
def test_sensitivity_draws_markers_and_joins_them_only_from_three_values(n_values, joined):
    lrs = [1e-3, 1e-2, 1e-1][:n_values]
    summary = pd.DataFrame(
        {"setting": [f"lr={lr:g}" for lr in lrs], "lr": lrs, "eval_mse_mean": [0.1] * n_values,
         "eval_mse_std": [0.01] * n_values}
    )  # fmt: skip
    with report_style():
        figure = sensitivity_figure(summary, ["lr"], error_bars=False)
    (ax,) = figure.axes
    (line,) = ax.get_lines()
    plt.close(figure)

    assert line.get_marker() == "o"
    assert (line.get_linestyle() != "None") == joined
    assert "one seed" in ax.get_ylabel()


def test_sensitivity_of_points_that_share_no_other_value_is_one_unjoined_series_without_a_legend():
    """A search's trials: each has its own lr and weight decay. One series per value of the other key
    was a series, and a legend entry, per trial: 24 entries over a crushed panel."""
    rng = np.random.default_rng(0)
    lrs, decays = 10 ** rng.uniform(-4, -1, 24), 10 ** rng.uniform(-5, -1, 24)
    summary = pd.DataFrame(
        {"setting": [f"lr={lr:g} weight_decay={wd:g}" for lr, wd in zip(lrs, decays, strict=True)],
         "lr": lrs, "weight_decay": decays, "eval_mse_mean": rng.uniform(0.01, 1, 24),
         "eval_mse_std": np.nan}
    )  # fmt: skip
    with report_style():
        figure = sensitivity_figure(summary, ["lr", "weight_decay"], error_bars=False)
    plt.close(figure)

    assert len(figure.axes) == 2
    for ax in figure.axes:
        (line,) = ax.get_lines()
        assert len(line.get_xdata()) == 24 and line.get_linestyle() == "None"
        assert ax.get_legend() is None


def test_sensitivity_past_six_series_draws_them_grey_under_their_median_and_the_best_settings():
    """A 4 x 4 x 4 grid: 16 series a panel, whose 16-entry legends spilled over the panels below."""
    grid = list(itertools.product([3e-4, 1e-3, 3e-3, 1e-2], [0.0, 1e-4, 1e-3, 1e-2], [16, 32, 64, 128]))
    lr, decay, width = (np.array(column) for column in zip(*grid, strict=True))
    summary = pd.DataFrame(
        {"setting": [f"lr={a:g} weight_decay={b:g} width={c}" for a, b, c in grid], "lr": lr,
         "weight_decay": decay, "width": width, "eval_mse_mean": 1e-3 / lr * width / 16 + decay,
         "eval_mse_std": 0.1}
    ).sort_values("eval_mse_mean", ignore_index=True)  # fmt: skip
    with report_style():
        figure = sensitivity_figure(summary, ["lr", "weight_decay", "width"])
    plt.close(figure)

    best = summary.iloc[0]
    panels = [ax for ax in figure.axes if ax.get_visible()]
    for ax, key in zip(panels, ["lr", "weight_decay", "width"], strict=True):
        others = [other for other in ["lr", "weight_decay", "width"] if other != key]
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert labels == [
            f"median over the 16 settings of {', '.join(others)}",
            "best: " + " ".join(f"{other}={best[other]:g}" for other in others),
        ]
        lines = ax.get_lines()
        assert sum(line.get_color() == "0.7" for line in lines) == 16  # every series, in grey
        (median,) = [line for line in lines if line.get_label().startswith("median")]
        assert np.allclose(median.get_ydata(), summary.groupby(key)["eval_mse_mean"].median().sort_index())


def test_one_seed_tables_have_no_seed_columns_and_several_seeds_do(one_seed, three_seeds):
    one = display_summary(one_seed[1], ["betas", "optimizer"], one_seed=True)
    several = display_summary(three_seeds[1], ["betas", "optimizer"], one_seed=False)

    assert list(one.columns) == ["betas", "optimizer", "finished", "final_loss", "eval_mse"]
    assert "best seed (eval_mse)" in several.columns and "±" in several["eval_mse"].iloc[0]


def test_best_and_worst_seeds_are_integers_even_where_nothing_finished(three_seeds):
    _, summary = three_seeds
    assert str(summary["best_seed"].dtype) == "Int64" and summary["best_seed"].isna().sum() == 1
    written = pd.read_csv(io.StringIO(summary.to_csv(index=False)), dtype=str)
    assert set(written["best_seed"].dropna()) <= {"0", "1", "2"}  # never 0.0


def test_verdict_with_one_seed_names_runner_up_and_gap_and_says_it_is_untested(one_seed):
    runs, summary = one_seed
    text = verdict(runs, summary)
    best, runner_up = summary.iloc[0], summary.iloc[1]

    assert text.startswith(f"Best setting: {best['setting']}, eval_mse {best['eval_mse_mean']:.3g} (1 seed).")
    assert f"Runner-up: {runner_up['setting']}" in text
    assert f"gap {runner_up['eval_mse_mean'] - best['eval_mse_mean']:.3g}" in text
    assert "Only one seed per setting" in text and "1 of 10 runs did not finish" in text
    assert "optimizer.name" not in text


def test_verdict_with_seeds_tests_the_gap_with_welch(three_seeds):
    runs, summary = three_seeds
    comparison = compare(runs, summary)
    finished = runs[runs["status"] == "FINISHED"]
    best = finished[finished["setting"] == summary["setting"].iloc[0]]["eval_mse"]
    second = finished[finished["setting"] == summary["setting"].iloc[1]]["eval_mse"]

    expected = stats.ttest_ind(best, second, equal_var=False).pvalue
    assert comparison.p_value == pytest.approx(expected)
    text = verdict(runs, summary)
    assert f"Welch's t-test p = {expected:.2g}" in text and "mean ± std over 3 seeds" in text
    assert comparison.gap_exceeds_spread == (expected < 0.05)


def test_verdict_counts_only_the_seeds_with_a_score(three_seeds):
    """A finished run whose eval_mse is missing is no seed of the mean: the best setting left with one
    score is '1 seed' and its gap untested, not 'over 3 seeds' with a Welch test of one value."""
    runs = three_seeds[0].copy()
    best = three_seeds[1]["setting"].iloc[0]
    scored = runs[(runs["setting"] == best) & (runs["status"] == "FINISHED")].sort_values("eval_mse")
    runs.loc[scored.index[1:], "eval_mse"] = np.nan  # its best seed keeps its score: still the best
    summary = summarize(runs, ["betas", "optimizer"])

    comparison = compare(runs, summary)
    text = verdict(runs, summary)

    assert comparison.best.setting == best and comparison.best.n == 1 and not comparison.tested
    assert f"eval_mse {scored['eval_mse'].iloc[0]:.3g} (1 seed)" in text and "nan" not in text
    assert "cannot be tested" in text
