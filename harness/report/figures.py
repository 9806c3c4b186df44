"""The report's figures, drawn with matplotlib from the summary tables; each returns a Figure or None.

None means the figure says nothing for this sweep (no finished run, one setting, not two keys).
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from harness.curves import PLOT_CEILING
from harness.report.data import assignments, format_value
from harness.report.summary import RANK_METRIC

LINES_PER_PANEL = 6
PANEL_SIZE = (5.0, 3.4)
LOG_AXIS_KEYS = {"lr", "weight_decay"}
LOG_AXIS_MIN_DECADES = 2  # a numeric key spanning this many decades also gets a log axis
DARK_CELL = 0.6  # heatmap cells past this share of the colour scale are dark: white text
LOSS_HEADROOM = 10  # the loss axis ends this many times above the highest starting loss


def plottable(values: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    return values.clip(upper=PLOT_CEILING)


def panel_grid(n_panels: int, columns: int = 2) -> tuple[Figure, list[plt.Axes]]:
    """A figure with `n_panels` axes, at most `columns` wide; unused cells are hidden."""
    columns = min(columns, n_panels)
    rows = -(-n_panels // columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows),
        squeeze=False,
        layout="constrained",
    )
    flat = list(axes.flat)
    for unused in flat[n_panels:]:
        unused.set_visible(False)
    return figure, flat[:n_panels]


def curve_panels(summary: pd.DataFrame, setting_keys: list[str]) -> list[tuple[str, list[str]]]:
    """Which settings share a panel: all in one when few, else one panel per value of the first key,
    else runs of LINES_PER_PANEL settings in ranking order."""
    settings = list(summary["setting"])
    if len(settings) <= LINES_PER_PANEL:
        return [("", settings)]
    if len(setting_keys) >= 2:  # sorted by the other keys, so that a colour means the same in every panel
        first = setting_keys[0]
        return [
            (assignments([first], values), list(group.sort_values(setting_keys[1:])["setting"]))
            for values, group in summary.groupby([first], sort=True)
        ]
    chunks = [settings[start : start + LINES_PER_PANEL] for start in range(0, len(settings), LINES_PER_PANEL)]
    return [
        (f"ranks {start * LINES_PER_PANEL + 1}-{start * LINES_PER_PANEL + len(chunk)}", chunk)
        for start, chunk in enumerate(chunks)
    ]


def starting_loss(bands: pd.DataFrame) -> float:
    """The highest loss any setting starts from (its band's top at its first step)."""
    return bands.sort_values("step").groupby("setting")["max"].first().max()


def loss_curves_figure(bands: pd.DataFrame, summary: pd.DataFrame, setting_keys: list[str]) -> Figure | None:
    """Per setting the median loss over seeds with the min-max band, smoothed, on a log scale."""
    if bands.empty:
        return None
    bands = bands.assign(**plottable(bands[["median", "min", "max"]]))
    panels = curve_panels(summary, setting_keys)
    figure, axes = panel_grid(len(panels))
    for ax, (title, settings) in zip(axes, panels, strict=True):
        for setting in settings:
            band = bands[bands["setting"] == setting]
            if band.empty:
                continue
            (line,) = ax.plot(band["step"], band["median"], label=setting, linewidth=1.2)
            ax.fill_between(band["step"], band["min"], band["max"], color=line.get_color(), alpha=0.2)
        if (bands["min"] > 0).any():
            ax.set_yscale("log")
            ax.set_ylim(top=LOSS_HEADROOM * starting_loss(bands))  # a diverging run leaves through the top
        ax.set(title=title, xlabel="step", ylabel="loss (median, min-max over seeds)")
        ax.legend(fontsize="x-small")
    return figure


def fit_figure(fits: dict[str, tuple[str, dict[str, np.ndarray]]]) -> Figure | None:
    """The fitted curve against the target, one panel per named run (best, worst)."""
    if not fits:
        return None
    figure, axes = panel_grid(len(fits))
    for ax, (name, (label, arrays)) in zip(axes, fits.items(), strict=True):
        ax.plot(arrays["x"], arrays["y_target"], "--", color="black", label="target")
        ax.plot(arrays["x"], arrays["y_pred"], color="tab:blue" if name == "best" else "tab:red", label="MLP")
        ax.set(title=f"{name}: {label}", xlabel="x", ylabel="y")
        ax.title.set_fontsize("small")
        ax.legend(fontsize="x-small")
    return figure


def wants_log_axis(key: str, values: pd.Series) -> bool:
    positive = values[values > 0]
    if key in LOG_AXIS_KEYS:
        return len(positive) > 0
    return len(positive) == len(values) and positive.max() / positive.min() >= 10**LOG_AXIS_MIN_DECADES


def set_key_scale(ax: plt.Axes, key: str, values: pd.Series) -> None:
    """Log axis for learning rates, weight decays and keys spanning decades; symlog when 0 is a value."""
    if not wants_log_axis(key, values):
        return
    if (values <= 0).any():
        ax.set_xscale("symlog", linthresh=values[values > 0].min())
    else:
        ax.set_xscale("log")


def numeric_keys(summary: pd.DataFrame, setting_keys: list[str]) -> list[str]:
    """Swept keys with numbers for values and more than one value: the axes of a sensitivity plot."""
    return [
        key
        for key in setting_keys
        if pd.api.types.is_numeric_dtype(summary[key]) and summary[key].nunique() > 1
    ]


def sensitivity_figure(summary: pd.DataFrame, setting_keys: list[str]) -> Figure | None:
    """Mean eval_mse (error bar: std over seeds) against each numeric swept key, one line per value
    of the other swept keys."""
    finished = summary.dropna(subset=[f"{RANK_METRIC}_mean"])
    finished = finished.assign(**plottable(finished[[f"{RANK_METRIC}_mean", f"{RANK_METRIC}_std"]]))
    axis_keys = numeric_keys(finished, setting_keys) if len(finished) > 1 else []
    if not axis_keys:
        return None
    figure, axes = panel_grid(len(axis_keys))
    for ax, key in zip(axes, axis_keys, strict=True):
        others = [other for other in setting_keys if other != key]
        lines = finished.groupby(others, sort=True) if others else [((), finished)]
        for values, line in lines:
            line = line.sort_values(key)
            label = assignments(others, values)
            ax.errorbar(
                line[key],
                line[f"{RANK_METRIC}_mean"],
                yerr=line[f"{RANK_METRIC}_std"].fillna(0),
                marker="o",
                capsize=3,
                label=label or None,
            )
        set_key_scale(ax, key, finished[key])
        ax.set_yscale("log")
        ax.set(xlabel=key, ylabel=f"{RANK_METRIC} (mean ± std over seeds)", title=f"sensitivity to {key}")
        if others:
            ax.legend(fontsize="x-small")
    return figure


def heatmap_figure(summary: pd.DataFrame, setting_keys: list[str]) -> Figure | None:
    """Mean eval_mse over the grid of the two swept keys (grey: nothing finished), log colour scale."""
    if len(setting_keys) != 2:
        return None
    rows, columns = setting_keys
    grid = summary.pivot_table(index=rows, columns=columns, values=f"{RANK_METRIC}_mean", dropna=False)
    grid = grid.reindex(index=sorted(summary[rows].unique()), columns=sorted(summary[columns].unique()))
    values = np.ma.masked_invalid(plottable(grid).to_numpy(dtype=float))
    figure, ax = plt.subplots(
        figsize=(1.1 * len(grid.columns) + 3, 0.6 * len(grid.index) + 2), layout="constrained"
    )
    colormap = matplotlib.colormaps["viridis_r"].with_extremes(bad="lightgrey")
    positive = values.compressed()[values.compressed() > 0]
    norm = LogNorm(positive.min(), positive.max()) if positive.size else None
    image = ax.imshow(values, cmap=colormap, norm=norm, aspect="auto")
    figure.colorbar(image, ax=ax, label=f"{RANK_METRIC} (mean over seeds)")
    ax.set_xticks(range(len(grid.columns)), [format_value(value) for value in grid.columns])
    ax.set_yticks(range(len(grid.index)), [format_value(value) for value in grid.index])
    ax.set(xlabel=columns, ylabel=rows, title=f"{RANK_METRIC} by {rows} and {columns}")
    for (i, j), value in np.ndenumerate(values.filled(np.nan)):
        dark = norm is not None and np.isfinite(value) and value > 0 and image.norm(value) > DARK_CELL
        text = "failed" if np.isnan(value) else f"{value:.2g}"
        ax.text(j, i, text, ha="center", va="center", fontsize="small", color="white" if dark else "black")
    return figure
