"""The compare page's figures: A against B per paired setting (each seed a dot, the mean with its
spread), and the loss curves of the biggest change, A's and B's overlaid. Drawn from what
`harness.report.compare.pairing` read: no store reads here."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from harness.curves import PLOT_CEILING
from harness.report.compare.stats import COMPARED_METRICS, Change
from harness.report.figures import PANEL_SIZE, thinned
from harness.report.summary import curve_bands

SIDE_COLOURS = {"A": "tab:grey", "B": "tab:blue"}
ROW_INCHES = 0.42  # height per setting in the A-vs-B panels
OFFSET = 0.17  # A above, B below each setting's row

FIGURE_TEXTS = {
    "compare_settings": (
        "A against B per setting",
        "Each paired setting's score (eval_mse) and final loss in A (grey) and B (blue): every finished "
        "seed a small dot, the mean over seeds a large dot with a bar of ± one std over seeds; log scale. "
        "The tables above give the difference's 95% interval and the test.",
    ),
    "compare_curves": (
        "Loss curves of the biggest change",
        "Training loss of the setting whose score changed most, A's runs and B's overlaid: the median over "
        "seeds (line) and the min-max over seeds (band), smoothed by a rolling geometric mean as in the "
        "sweep report.",
    ),
}


def settings_figure(changes: list[Change]) -> Figure | None:
    """One panel per metric; one row per setting, A and B side by side."""
    if not changes:
        return None
    settings = list(dict.fromkeys(change.setting for change in changes))
    height = max(2.4, ROW_INCHES * len(settings) + 1.3)
    figure, axes = plt.subplots(
        1, len(COMPARED_METRICS), figsize=(2 * PANEL_SIZE[0], height), sharey=True, layout="constrained"
    )
    for ax, metric in zip(np.atleast_1d(axes), COMPARED_METRICS, strict=True):
        for row, setting in enumerate(settings):
            change = next(c for c in changes if c.setting == setting and c.metric == metric)
            for side, values, shift in (("A", change.a, -OFFSET), ("B", change.b, OFFSET)):
                values = np.clip(values, None, PLOT_CEILING)
                if not len(values):
                    continue
                colour = SIDE_COLOURS[side]
                ax.plot(values, np.full(len(values), row + shift), "o", color=colour, markersize=3, alpha=0.5)
                spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
                mean = float(np.mean(values))
                ax.errorbar(
                    [mean], [row + shift], xerr=[[min(spread, 0.999 * mean)], [spread]], fmt="o",
                    color=colour, markersize=7, capsize=4, label=side if row == 0 else None,
                )  # fmt: skip
        ax.set_xscale("log")
        ax.set(xlabel=f"{metric} (each seed; mean ± std)", title=metric)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="best")
    first = np.atleast_1d(axes)[0]
    first.set_yticks(range(len(settings)), settings)
    first.set_ylim(len(settings) - 0.5, -0.5)  # the table's order, top to bottom
    return figure


def curves_figure(change: Change | None, curves_a: pd.DataFrame, curves_b: pd.DataFrame) -> Figure | None:
    """`curves_*`: long format (setting, step, loss) of the biggest change's runs in A and B."""
    if change is None or (curves_a.empty and curves_b.empty):
        return None
    figure, ax = plt.subplots(figsize=PANEL_SIZE[0] * 1.4 * np.array([1, 0.62]), layout="constrained")
    for side, curves in (("A", curves_a), ("B", curves_b)):
        if curves.empty:
            continue
        band = thinned(curve_bands(curves.assign(setting=side)))
        colour = SIDE_COLOURS[side]
        top = band[["median", "min", "max"]].clip(upper=PLOT_CEILING)
        ax.plot(band["step"], top["median"], color=colour, linewidth=1.6, label=f"{side} (median over seeds)")
        ax.fill_between(band["step"], top["min"], top["max"], color=colour, alpha=0.18)
    ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="training loss", title=change.setting)
    ax.legend(loc="best")
    return figure
