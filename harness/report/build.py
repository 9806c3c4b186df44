"""From a sweep to an answer: the report's files, built from what `harness.report.data` reads.

Writes DIR/<sweep>/report.html (self-contained), report.md, runs.csv, summary.csv and the PNGs,
and logs the files under `report/` of the sweep's parent run.
The notebooks use the same API: `load_runs`, `load_curves`, `summarize`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from harness.report.data import (
    LATEST,
    SEED_KEY,
    ReportError,
    Sweep,
    find_sweep,
    format_value,
    load_fit,
    sweep_curves,
    sweep_runs,
)
from harness.report.figures import fit_figure, heatmap_figure, loss_curves_figure, sensitivity_figure
from harness.report.render import (
    ReportFigure,
    ReportPage,
    display_failures,
    display_summary,
    mean_std,
    render_html,
    render_markdown,
)
from harness.report.summary import RANK_METRIC, best_and_worst_runs, curve_bands, failures, summarize
from harness.tracking import FINISHED, open_store, scrub_text

ARTIFACT_DIR = "report"
FIGURE_DPI = 80
FIGURE_TEXTS = {  # name: (title, caption)
    "loss_curves": (
        "Loss curves",
        "Training loss per setting: median over seeds (line) and min-max over seeds (band), smoothed by a "
        "rolling mean, log scale. Diverged runs count until their last finite step.",
    ),
    "fit": (
        "Fitted curve against the target",
        "The best seed of the best setting, and of the worst setting that finished, on [-1, 1].",
    ),
    "sensitivity": (
        "Sensitivity",
        f"Mean {RANK_METRIC} over seeds (error bar: std) against each numeric swept key, one line per value "
        "of the other swept keys.",
    ),
    "heatmap": (
        "Heatmap",
        f"Mean {RANK_METRIC} over seeds for each pair of values of the two swept keys (grey: none finished).",
    ),
}


@dataclass(frozen=True)
class ReportFiles:
    """What one report wrote, and where it was logged."""

    sweep: Sweep
    directory: Path
    html: Path
    markdown: Path
    runs_csv: Path
    summary_csv: Path
    figures: list[Path]
    verdict: str
    summary: pd.DataFrame  # display form, as printed
    logged_to_run: str | None

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.markdown, self.runs_csv, self.summary_csv, *self.figures]


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    plt.close(figure)
    return buffer.getvalue()


def fitted_curves(sweep: Sweep, runs: pd.DataFrame, summary: pd.DataFrame) -> dict:
    """`fit.npz` of the best setting's best seed and of the worst finished setting's best seed."""
    fits = {}
    for name, run in best_and_worst_runs(runs, summary).items():
        arrays = load_fit(sweep.tracking_uri, run["run_id"])
        if arrays is not None:
            label = (
                f"{run['setting']}, seed {format_value(run[SEED_KEY])}, {RANK_METRIC} {run[RANK_METRIC]:.3g}"
            )
            fits[name] = (label, arrays)
    return fits


def draw_figures(sweep: Sweep, runs: pd.DataFrame, summary: pd.DataFrame) -> list[ReportFigure]:
    """The figures that say something for this sweep, as PNG bytes, with their titles and captions."""
    keys = sweep.setting_keys
    drawn = {
        "loss_curves": loss_curves_figure(curve_bands(sweep_curves(sweep, runs)), summary, keys),
        "fit": fit_figure(fitted_curves(sweep, runs, summary)),
        "sensitivity": sensitivity_figure(summary, keys),
        "heatmap": heatmap_figure(summary, keys),
    }
    return [
        ReportFigure(name, *FIGURE_TEXTS[name], png_bytes(figure))
        for name, figure in drawn.items()
        if figure is not None
    ]


def verdict(runs: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The one sentence a reader wants: which setting won, or that nothing finished."""
    n_failed = int((runs["status"] != FINISHED).sum())
    if n_failed == len(runs):
        return (
            f"No run finished: every run diverged or failed ({n_failed} of {n_failed}). "
            "Their reasons are listed below."
        )
    best = summary.iloc[0]
    seeds = "seed" if best["n"] == 1 else "seeds"
    sentence = (
        f"Best setting: {best['setting']}, {RANK_METRIC} "
        f"{mean_std(best[f'{RANK_METRIC}_mean'], best[f'{RANK_METRIC}_std'])} over {best['n']} {seeds}."
    )
    if n_failed:
        sentence += f" {n_failed} of {len(runs)} runs did not finish (listed below)."
    return sentence


def report_page(sweep: Sweep, runs: pd.DataFrame, summary: pd.DataFrame) -> ReportPage:
    n_finished = int((runs["status"] == FINISHED).sum())
    facts = {
        "experiment": sweep.experiment,
        "sweep": sweep.sweep_id,
        "parent run": sweep.root_run_id or "none",
        "store": scrub_text(sweep.tracking_uri),
        "swept keys": ", ".join(sweep.swept_keys) or "none (a single run)",
        "overrides": sweep.overrides or "none",
        "runs": f"{len(runs)} ({n_finished} finished, {len(runs) - n_finished} did not)",
    }
    return ReportPage(
        title=f"Sweep {sweep.sweep_id}",
        facts=facts,
        verdict=verdict(runs, summary),
        all_failed=n_finished == 0,
        summary=display_summary(summary, sweep.setting_keys),
        failures=display_failures(failures(runs)),
        figures=draw_figures(sweep, runs, summary),
    )


def build_report(found: Sweep, out_dir: str | Path = "reports") -> ReportFiles:
    """Write every file of the report of one sweep (see `find_sweep`) and log them to its parent run."""
    runs = sweep_runs(found)
    if runs.empty:
        raise ReportError(f"sweep {found.sweep_id!r} has no job runs yet")
    summary = summarize(runs, found.setting_keys)
    page = report_page(found, runs, summary)
    directory = Path(out_dir) / found.sweep_id
    directory.mkdir(parents=True, exist_ok=True)
    figures = []
    for figure in page.figures:
        (directory / figure.filename).write_bytes(figure.png)
        figures.append(directory / figure.filename)
    files = ReportFiles(
        sweep=found,
        directory=directory,
        html=directory / "report.html",
        markdown=directory / "report.md",
        runs_csv=directory / "runs.csv",
        summary_csv=directory / "summary.csv",
        figures=figures,
        verdict=page.verdict,
        summary=page.summary,
        logged_to_run=found.root_run_id,
    )
    files.html.write_text(render_html(page), encoding="utf-8")
    files.markdown.write_text(render_markdown(page), encoding="utf-8")
    runs.to_csv(files.runs_csv, index=False)
    summary.to_csv(files.summary_csv, index=False)
    if found.root_run_id:
        store = open_store(found.tracking_uri)
        for path in files.paths:
            store.log_artifact(found.root_run_id, path, artifact_path=ARTIFACT_DIR)
    return files


def write_report(
    experiment: str | None = None,
    sweep: str = LATEST,
    out_dir: str | Path = "reports",
    tracking_uri: str | None = None,
) -> Path:
    """The runner's entry (docs/contracts.md): write the report and return the path of report.html."""
    return build_report(find_sweep(experiment, sweep, tracking_uri), out_dir).html
