"""Figures on the edge cases a real sweep can produce, without a store."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd

from harness.analysis.figures import fit_figure, heatmap_figure, loss_curves_figure, sensitivity_figure


def draws(figure) -> bool:
    """The figure holds data (lines, bands, cells) and renders to a PNG with more than its background."""
    if not any(axes.lines or axes.collections or axes.images for axes in figure.axes):
        return False
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    pixels = mpimg.imread(buffer, format="png")
    return pixels.size > 0 and len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 2


def test_a_loss_on_its_way_to_overflow_still_draws():
    bands = pd.DataFrame(
        {
            "setting": ["lr=1", "lr=1", "lr=1", "lr=0.1", "lr=0.1", "lr=0.1"],
            "step": [0, 1, 2, 0, 1, 2],
            "median": [1e6, 1e150, 3e292, 1e6, 1e3, 1.0],
            "min": [1e6, 1e150, 3e292, 1e6, 1e3, 1.0],
            "max": [1e6, 1e150, 3e292, 1e6, 1e3, 1.0],
        }
    )
    summary = pd.DataFrame({"setting": ["lr=0.1", "lr=1"], "lr": [0.1, 1.0]})

    assert draws(loss_curves_figure(bands, summary, ["lr"]))


def test_huge_and_missing_means_still_draw_sensitivity_and_heatmap():
    summary = pd.DataFrame(
        {
            "setting": ["a", "b", "c", "d"],
            "lr": [1e-3, 1e-3, 1e-2, 1e-2],
            "width": [8, 16, 8, 16],
            "eval_mse_mean": [0.5, 2e250, float("nan"), 0.01],
            "eval_mse_std": [0.1, float("nan"), float("nan"), 0.0],
        }
    )

    assert draws(sensitivity_figure(summary, ["lr", "width"]))
    assert draws(heatmap_figure(summary, ["lr", "width"]))
    assert heatmap_figure(summary, ["lr"]) is None


def test_each_fit_panel_keeps_the_targets_range_and_marks_where_a_bad_fit_leaves_it():
    x = np.linspace(-1, 1, 200)
    target = 2.777 * x**2 + 0.123 - 1.5 * x**3 + np.sin(4 * x)
    good = {"x": x, "y_target": target, "y_pred": target + 0.05}
    wild = {"x": x, "y_target": target, "y_pred": 2.37e5 * x}  # a search's worst run: eval_mse ~1e10
    figure = fit_figure({"best": ("lr=0.001", good), "worst": ("lr=0.1", wild)})

    best, worst = figure.axes
    span = target.max() - target.min()
    for ax in (best, worst):  # the target fills most of each panel: a fit to it is readable
        low, high = ax.get_ylim()
        assert low <= target.min() and high >= target.max() and high - low <= 1.5 * span
    assert len(best.get_legend().get_texts()) == 2  # target and MLP: nothing leaves the range
    legend = [text.get_text() for text in worst.get_legend().get_texts()]
    assert (
        "MLP above the range (up to 2.37e+05)" in legend
        and "MLP below the range (down to -2.37e+05)" in legend
    )
    assert draws(figure)
