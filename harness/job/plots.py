"""The figures of a job: the fitted MLP against its target, and the loss curve.

Matplotlib's object API on the Agg canvas (no pyplot, no display), at a modest dpi. Plotting is a
large share of a job's overhead, so each kind of figure is set up once per process and redrawn with
the next job's data (a sweep running many jobs in one process pays figure, axes and font set-up once).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.curves import PLOT_CEILING, smooth

DPI = 80
SIZE = (6.0, 4.0)
# zlib's fastest level: about half the PNG's cost (measured 40 -> 22 ms) for ~20% more bytes
PNG_OPTIONS = {"compress_level": 1}

_drawing = threading.Lock()  # one figure per process: two threads must not draw it at once


class _Plot:
    """One figure with one axes and `lines` line artists, redrawn for each job."""

    def __init__(self, xlabel: str, ylabel: str, lines: int, legend_at: str = "best"):
        self.figure = Figure(figsize=SIZE, dpi=DPI)
        self.figure.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)  # tight_layout costs a draw
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.add_subplot()
        self.axes.set_xlabel(xlabel)
        self.axes.set_ylabel(ylabel)
        self.lines = [self.axes.plot([], [])[0] for _ in range(lines)]
        self.legend_at = legend_at  # "best" tries every place against every point drawn
        # a fixed place: the automatic one measures every tick label
        self.title = self.axes.set_title("", fontsize=10, y=1.0)

    def draw(self, path: Path, title: str, data: list[tuple[np.ndarray, np.ndarray, str]], log: bool) -> Path:
        for line, (x, y, label) in zip(self.lines, data, strict=True):
            line.set_data(x, y)
            line.set_label(label)
        self.title.set_text(title)
        self.axes.set_yscale("log" if log else "linear")
        if log:
            self.axes.minorticks_off()  # log-scale minor ticks cost more to draw than they tell
        self.axes.relim()
        self.axes.autoscale_view()
        self.axes.legend(loc=self.legend_at)
        self.figure.savefig(path, dpi=DPI, pil_kwargs=PNG_OPTIONS)
        return path


@functools.cache
def _fit_plot() -> _Plot:
    plot = _Plot("X", "Y", lines=2)
    plot.lines[1].set_linestyle("--")
    return plot


@functools.cache
def _loss_plot() -> _Plot:
    plot = _Plot("step", "loss", lines=2, legend_at="upper right")  # a falling curve leaves it free
    plot.lines[0].set(linewidth=0.5, alpha=0.4)
    plot.lines[1].set(linewidth=1.5)
    return plot


def plot_fit(x: np.ndarray, y_pred: np.ndarray, y_target: np.ndarray, path: Path, title: str = "") -> Path:
    """The seed post's figure: the MLP's curve and the target's, dashed."""
    with _drawing:
        return _fit_plot().draw(path, title, [(x, y_pred, "MLP"), (x, y_target, "Target")], log=False)


def plot_loss(losses: np.ndarray, path: Path, title: str = "") -> Path:
    """Loss per step on a log scale: raw, and smoothed over ~1/50 of the run. A diverging run's
    values are drawn clipped at PLOT_CEILING (a log axis cannot span up to 1e308)."""
    steps = np.arange(len(losses))
    window = max(1, len(losses) // 50)
    label = "loss" if not np.any(losses > PLOT_CEILING) else f"loss (clipped at {PLOT_CEILING:g})"
    shown = np.minimum(losses, PLOT_CEILING)
    data = [(steps, shown, label), (steps, smooth(shown, window), f"moving average ({window} steps)")]
    with _drawing:
        return _loss_plot().draw(path, title, data, log=bool(len(losses) and np.all(losses > 0)))
