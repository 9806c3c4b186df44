"""The report's figures, drawn with matplotlib from the summary tables; each returns a Figure or None.

None means the figure says nothing for this sweep (no finished run, one setting, not two keys).
Sizes are in inches of the page: the HTML shows each figure at `CSS_PX_PER_INCH`, and `STYLE` keeps every
text at 9 pt or more there, so a figure reads at 100% zoom.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from harness.analysis.data import assignments, format_value, value_order
from harness.analysis.summary import RANK_METRIC
from harness.curves import PLOT_CEILING

CSS_PX_PER_INCH = 96  # how wide the page shows one inch of a figure (the browser's own inch)
PIXEL_DENSITY = 2  # PNG pixels per CSS pixel: sharp on high-density screens and when zoomed
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 12,
    "axes.titlepad": 10,  # room for a failure marker on the top edge
}
MIN_FONT_POINTS = 9
LINES_PER_PANEL = 6
PANEL_SIZE = (5.0, 3.4)  # two panels side by side fill the page's 1,068 px column
LOG_AXIS_KEYS = {"lr", "weight_decay"}
LOG_AXIS_MIN_DECADES = 2  # a numeric key spanning this many decades also gets a log axis
DARK_CELL = 0.6  # heatmap cells past this share of the colour scale are dark: white text
LOSS_HEADROOM = 10  # the loss axis ends this many times above the highest starting loss
FLOOR_MARGIN = 0.5  # ... and this fraction below the lowest loss drawn
FAILURE_MARKER = "X"
TITLE_WIDTH = 48  # characters per title line in a panel
FIT_MARGIN = 0.15  # a fit panel's y-range: the target's, and this fraction of it above and below
# points drawn per loss curve: a panel is about 1,000 px wide and the bands are smoothed over 2% of
# the steps, so more points draw nothing new (a 3000-step curve is every 5th step, and its last)
DRAWN_POINTS = 600
# the loss curves' one legend under their panels: at most this many columns, as many as fit the width
SHARED_LEGEND_COLUMNS = 4
LEGEND_CHARACTER_INCHES = 0.075  # a character of a 9 pt legend label, about
LEGEND_HANDLE_INCHES = 0.8  # a legend entry's line, gaps and padding
LEGEND_ROW_INCHES = 0.22  # the height each row adds to the figure


def line_colours(labels: list[str]) -> dict[str, object]:
    """A colour per label: matplotlib's ten, or tab20's twenty past ten (repeats only past twenty)."""
    palette = [f"C{index}" for index in range(10)]
    if len(labels) > len(palette):
        palette = list(matplotlib.colormaps["tab20"].colors)
    return {label: palette[index % len(palette)] for index, label in enumerate(labels)}


@contextmanager
def report_style() -> Iterator[None]:
    """The report's font sizes, for drawing and saving its figures."""
    with plt.rc_context(STYLE):
        yield


def plottable(values: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    return values.clip(upper=PLOT_CEILING)


def panel_grid(n_panels: int, columns: int = 2, sharey: bool = False) -> tuple[Figure, list[plt.Axes]]:
    """A figure with `n_panels` axes, at most `columns` wide; unused cells are hidden."""
    columns = min(columns, n_panels)
    rows = -(-n_panels // columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows),
        squeeze=False,
        sharey=sharey,
        layout="constrained",
    )
    flat = list(axes.flat)
    for unused in flat[n_panels:]:
        unused.set_visible(False)
    for ax in flat[:n_panels]:
        ax.yaxis.set_tick_params(labelleft=True)  # shared y: every panel still reads alone
    return figure, flat[:n_panels]


def sorted_values(values: pd.Series) -> list:
    return sorted(values.unique(), key=value_order)


Panel = tuple[str, list[tuple[str, str]]]  # title, and each setting with its legend label


def curve_panels(summary: pd.DataFrame, setting_keys: list[str]) -> list[Panel]:
    """Which settings share a panel, and how the legend names them (what the title does not say):
    all in one when few, else one panel per value of the first key (in numeric order), else runs of
    LINES_PER_PANEL settings in ranking order."""
    settings = list(summary["setting"])
    if len(settings) <= LINES_PER_PANEL:
        return [("", [(setting, setting) for setting in settings])]
    if len(setting_keys) >= 2:
        first, rest = setting_keys[0], setting_keys[1:]
        panels = []
        for value in sorted_values(summary[first]):
            group = summary[summary[first] == value]
            order = sorted(range(len(group)), key=lambda i: [value_order(v) for v in group[rest].iloc[i]])
            rows = group.iloc[order]
            labels = [assignments(rest, tuple(row[rest])) for _, row in rows.iterrows()]
            panels.append((assignments([first], (value,)), list(zip(rows["setting"], labels, strict=True))))
        return panels
    chunks = [settings[start : start + LINES_PER_PANEL] for start in range(0, len(settings), LINES_PER_PANEL)]
    return [
        (
            f"ranks {index * LINES_PER_PANEL + 1}-{index * LINES_PER_PANEL + len(chunk)}",
            [(setting, setting) for setting in chunk],
        )
        for index, chunk in enumerate(chunks)
    ]


def loss_limits(bands: pd.DataFrame) -> tuple[float, float] | None:
    """One y-range for every panel: from just below the lowest loss drawn to LOSS_HEADROOM times the
    highest starting loss (a diverging run leaves through the top). None when a log axis cannot hold it."""
    positive = bands["min"][(bands["min"] > 0) & np.isfinite(bands["min"])]
    if positive.empty:
        return None
    starts = bands.sort_values("step").groupby("setting")["max"].first()
    top = LOSS_HEADROOM * float(plottable(starts).max())
    return FLOOR_MARGIN * float(positive.min()), top


def thinned(band: pd.DataFrame) -> pd.DataFrame:
    """Every k-th row of a smoothed band, and its last (where a stopped run's band ends): at most
    about DRAWN_POINTS rows."""
    stride = -(-len(band) // DRAWN_POINTS)
    if stride <= 1:
        return band
    keep = np.zeros(len(band), dtype=bool)
    keep[::stride] = keep[-1] = True
    return band[keep]


def stop_label(steps: list[int], reasons: list[str]) -> str:
    verb = "diverged" if all(str(reason).startswith("loss is") for reason in reasons) else "failed"
    at = ", ".join(str(step) for step in sorted(steps))
    return f"{verb} at step {at}"


def loss_curves_figure(
    bands: pd.DataFrame,
    summary: pd.DataFrame,
    setting_keys: list[str],
    stops: pd.DataFrame | None = None,
    bands_drawn: bool = True,
) -> Figure | None:
    """Per setting the median loss over seeds (with the min-max band when `bands_drawn`), smoothed, on
    one log scale shared by every panel. `stops` (setting, failure_step, failure_reason) marks where runs
    that did not finish stopped; values above the axis are drawn on its top edge."""
    if bands.empty:
        return None
    stops = (
        stops if stops is not None else pd.DataFrame(columns=["setting", "failure_step", "failure_reason"])
    )
    limits = loss_limits(bands)
    top = limits[1] if limits else PLOT_CEILING
    shown = bands.assign(**bands[["median", "min", "max"]].clip(upper=top))
    panels = curve_panels(summary, setting_keys)
    labels = list(dict.fromkeys(label for _, members in panels for _, label in members))
    colours = line_colours(labels)
    # panels per value of the first key hold the same settings of the others, in the same colours: one
    # legend under them all says it once (a legend in each panel of 16 entries covered the curves)
    shared_legend = len(panels) > 1 and len(labels) < sum(len(members) for _, members in panels)
    by_setting = {setting: thinned(band) for setting, band in shown.groupby("setting", sort=False)}
    empty = shown.iloc[:0]
    figure, axes = panel_grid(len(panels), sharey=True)
    for ax, (title, members) in zip(axes, panels, strict=True):
        for setting, label in members:
            band = by_setting.get(setting, empty)
            stopped = stops[stops["setting"] == setting].dropna(subset=["failure_step"])
            colour = colours[label]
            legend = label
            if len(stopped):
                legend += f" ({stop_label(list(stopped['failure_step']), list(stopped['failure_reason']))})"
            if not band.empty:
                ax.plot(band["step"], band["median"], color=colour, label=legend, linewidth=1.4)
                if bands_drawn:
                    ax.fill_between(band["step"], band["min"], band["max"], color=colour, alpha=0.18)
            for step in stopped["failure_step"]:
                ax.plot(
                    [step], [top], FAILURE_MARKER, color=colour, markersize=9, clip_on=False,
                    label=None if not band.empty else legend,
                )  # fmt: skip
        if limits:
            ax.set_yscale("log")
            ax.set_ylim(*limits)
        ax.set(title=title, xlabel="step")
        if not shared_legend:
            ax.legend(loc="best")
    for ax in axes[:: min(2, len(axes))]:
        ax.set_ylabel("loss (median over seeds)" if bands_drawn else "loss")
    if shared_legend:
        width, height = figure.get_size_inches()
        entry = LEGEND_HANDLE_INCHES + LEGEND_CHARACTER_INCHES * max(len(label) for label in labels)
        columns = max(1, min(SHARED_LEGEND_COLUMNS, len(labels), int(width // entry)))
        figure.set_size_inches(width, height + LEGEND_ROW_INCHES * (1 + -(-len(labels) // columns)))
        handles = [Line2D([], [], color=colours[label], linewidth=1.4) for label in labels]
        figure.legend(handles, labels, loc="outside lower center", ncols=columns)
    return figure


def fit_limits(y_target: np.ndarray) -> tuple[float, float]:
    """The y-range of a fit panel: the target's, with a margin, whatever the MLP did."""
    low, high = float(np.min(y_target)), float(np.max(y_target))
    margin = FIT_MARGIN * (high - low) if high > low else 1.0
    return low - margin, high + margin


def fit_figure(fits: dict[str, tuple[str, dict[str, np.ndarray]]]) -> Figure | None:
    """The fitted curve against the target, one panel per named run (best, worst), each on the target's
    own y-range: a run far off the target cannot flatten the others. Where the MLP leaves that range, a
    marker on the panel's edge says so, and the legend gives how far it goes."""
    if not fits:
        return None
    figure, axes = panel_grid(len(fits), sharey=False)
    for ax, (name, (label, arrays)) in zip(axes, fits.items(), strict=True):
        x, y_target, y_pred = arrays["x"], arrays["y_target"], arrays["y_pred"]
        color = "tab:blue" if name == "best" else "tab:red"
        low, high = fit_limits(y_target)
        ax.plot(x, y_target, "--", color="black", label="target")
        ax.plot(x, np.clip(y_pred, low, high), color=color, label="MLP")
        with np.errstate(invalid="ignore"):
            above, below = ~(y_pred <= high) & ~np.isnan(y_pred), y_pred < low
        if above.any():
            ax.plot(x[above], np.full(above.sum(), high), "^", color=color, markersize=4, clip_on=False,
                    label=f"MLP above the range (up to {float(np.nanmax(y_pred)):.3g})")  # fmt: skip
        if below.any():
            ax.plot(x[below], np.full(below.sum(), low), "v", color=color, markersize=4, clip_on=False,
                    label=f"MLP below the range (down to {float(np.nanmin(y_pred)):.3g})")  # fmt: skip
        ax.set_ylim(low, high)
        ax.set(title=textwrap.fill(f"{name}: {label}", TITLE_WIDTH), xlabel="x", ylabel="y")
        ax.legend()
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


MIN_POINTS_FOR_A_LINE = 3  # two points joined by a line suggest a trend that two points cannot show


def sensitivity_figure(
    summary: pd.DataFrame, setting_keys: list[str], error_bars: bool = True
) -> Figure | None:
    """Mean eval_mse against each numeric swept key, a marker per value (error bar: std over seeds when
    `error_bars`), one series per value of the other swept keys; joined by a thin line from 3 values on."""
    finished = summary.dropna(subset=[f"{RANK_METRIC}_mean"])
    finished = finished.assign(**plottable(finished[[f"{RANK_METRIC}_mean", f"{RANK_METRIC}_std"]]))
    axis_keys = numeric_keys(finished, setting_keys) if len(finished) > 1 else []
    if not axis_keys:
        return None
    figure, axes = panel_grid(len(axis_keys), sharey=True)
    for ax, key in zip(axes, axis_keys, strict=True):
        others = [other for other in setting_keys if other != key]
        series = finished.groupby(others, sort=False) if others else [((), finished)]
        ordered = sorted(series, key=lambda item: [value_order(v) for v in np.atleast_1d(item[0])])
        # no two points share the other keys' values (a search's trials): a series per point would be a
        # legend entry per point; one series of them all reads, its points not joined (they differ in
        # more than this key)
        scattered = len(ordered) > 1 and all(len(points) == 1 for _, points in ordered)
        if scattered:
            ordered, others = [((), finished)], []
        crowded = len(ordered) > LINES_PER_PANEL  # a legend of every series would cover the panel
        if crowded:
            crowded_sensitivity(ax, key, finished, others, ordered, error_bars)
        else:
            for values, points in ordered:
                points = points.sort_values(key)
                joined = len(points) >= MIN_POINTS_FOR_A_LINE and not scattered
                ax.errorbar(
                    points[key], points[f"{RANK_METRIC}_mean"], yerr=log_error_bars(points, error_bars),
                    marker="o", markersize=6, capsize=4, linestyle="-" if joined else "none", linewidth=0.8,
                    label=assignments(others, tuple(np.atleast_1d(values))) or None,
                )  # fmt: skip
        set_key_scale(ax, key, finished[key])
        ax.set_yscale("log")
        ylabel = f"{RANK_METRIC} (mean ± std over seeds)" if error_bars else f"{RANK_METRIC} (one seed)"
        ax.set(xlabel=key, ylabel=ylabel, title=f"sensitivity to {key}")
        if others and not crowded:
            ax.legend()
    return figure


def crowded_sensitivity(
    ax: plt.Axes, key: str, finished: pd.DataFrame, others: list[str], ordered: list, error_bars: bool
) -> None:
    """More series than a legend can name: each in thin grey, their median over the other keys' settings
    in black, and the series of the best setting in colour (with its error bars), on top."""
    mean_column = f"{RANK_METRIC}_mean"
    best = tuple(np.atleast_1d(finished.iloc[0][others].to_numpy()))  # the summary is best first
    best_points = None
    for values, points in ordered:
        points = points.sort_values(key)
        if tuple(np.atleast_1d(values)) == best:
            best_points = points
        ax.plot(points[key], points[mean_column], color="0.7", linewidth=0.7, marker="o", markersize=3)
    median = finished.groupby(key)[mean_column].median().sort_index()
    ax.plot(median.index, median.to_numpy(), color="black", linewidth=1.8, marker="o", markersize=5,
            label=f"median over the {len(ordered)} settings of {', '.join(others)}")  # fmt: skip
    if best_points is not None:
        ax.errorbar(
            best_points[key], best_points[mean_column], yerr=log_error_bars(best_points, error_bars),
            color="C3", marker="o", markersize=6, capsize=4, linewidth=1.4,
            label=f"best: {assignments(others, best)}",
        )  # fmt: skip
    ax.legend()


def log_error_bars(points: pd.DataFrame, shown: bool) -> list[pd.Series] | None:
    """The std over seeds as error bars (lower, upper) on a log axis, which has no room below 0: the
    lower bar stops just above it. None when not `shown`."""
    if not shown:
        return None
    mean, std = points[f"{RANK_METRIC}_mean"], points[f"{RANK_METRIC}_std"].fillna(0)
    return [np.minimum(std, 0.999 * mean), std]


def heatmap_figure(summary: pd.DataFrame, setting_keys: list[str]) -> Figure | None:
    """Mean eval_mse over the grid of the two swept keys (grey: nothing finished), log colour scale."""
    if len(setting_keys) != 2:
        return None
    rows, columns = setting_keys
    grid = summary.pivot_table(index=rows, columns=columns, values=f"{RANK_METRIC}_mean", dropna=False)
    grid = grid.reindex(index=sorted_values(summary[rows]), columns=sorted_values(summary[columns]))
    values = np.ma.masked_invalid(plottable(grid).to_numpy(dtype=float))
    figure, ax = plt.subplots(
        figsize=(min(1.2 * len(grid.columns) + 3.5, 2 * PANEL_SIZE[0]), 0.55 * len(grid.index) + 2),
        layout="constrained",
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
        text = "none finished" if np.isnan(value) else f"{value:.2g}"
        ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black")
    return figure


def smallest_font_points(figure: Figure) -> float:
    """The smallest text on the figure, in points (drawn first so tick labels exist)."""
    figure.canvas.draw()
    sizes = [
        text.get_fontsize()
        for text in figure.findobj(matplotlib.text.Text)
        if text.get_visible() and text.get_text()
    ]
    return min(sizes, default=MIN_FONT_POINTS)
