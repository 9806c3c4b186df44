"""Figures on the edge cases a real sweep can produce, without a store."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pandas as pd

from harness.report.figures import heatmap_figure, loss_curves_figure, sensitivity_figure


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
