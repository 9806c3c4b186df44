"""The figures of a job: the fitted MLP against its target, and the loss curve.

Matplotlib's object API on the Agg canvas (no pyplot, no display), at a modest dpi: plotting is a
large share of a job's overhead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.curves import PLOT_CEILING, smooth

DPI = 80
SIZE = (6.0, 4.0)


def _new_axes(title: str):
    figure = Figure(figsize=SIZE, dpi=DPI)
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)  # fixed: tight_layout costs a draw
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=10, y=1.0)  # a fixed place: the automatic one measures every tick label
    return figure, axes


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI)
    return path


def plot_fit(x: np.ndarray, y_pred: np.ndarray, y_target: np.ndarray, path: Path, title: str = "") -> Path:
    """The seed post's figure: the MLP's curve and the target's, dashed."""
    figure, axes = _new_axes(title)
    axes.plot(x, y_pred, label="MLP")
    axes.plot(x, y_target, label="Target", linestyle="--")
    axes.set_xlabel("X")
    axes.set_ylabel("Y")
    axes.legend()
    return _save(figure, path)


def plot_loss(losses: np.ndarray, path: Path, title: str = "") -> Path:
    """Loss per step on a log scale: raw, and smoothed over ~1/50 of the run. A diverging run's
    values are drawn clipped at PLOT_CEILING (a log axis cannot span up to 1e308)."""
    figure, axes = _new_axes(title)
    steps = np.arange(len(losses))
    window = max(1, len(losses) // 50)
    label = "loss" if not np.any(losses > PLOT_CEILING) else f"loss (clipped at {PLOT_CEILING:g})"
    shown = np.minimum(losses, PLOT_CEILING)
    axes.plot(steps, shown, linewidth=0.5, alpha=0.4, label=label)
    axes.plot(steps, smooth(shown, window), linewidth=1.5, label=f"moving average ({window} steps)")
    if len(losses) and np.all(losses > 0):
        axes.set_yscale("log")
        axes.minorticks_off()  # log-scale minor ticks cost more to draw than they tell
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    return _save(figure, path)
