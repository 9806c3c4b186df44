"""From a sweep to an answer: the report's files, built from what `harness.analysis.data` reads.

Writes DIR/<sweep>/report.html (self-contained), report.md, runs.csv, summary.csv and the PNGs,
and logs the files under `report/` of the sweep's parent run.
The notebooks use the same API: `load_runs`, `load_curves`, `summarize`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.analysis.data import (
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
from harness.analysis.drawing import draw_figures as draw_in_parallel
from harness.analysis.figures import (
    FAILURE_MARKER,
    fit_figure,
    heatmap_figure,
    loss_curves_figure,
    sensitivity_figure,
)
from harness.analysis.render import (
    ReportFigure,
    ReportPage,
    display_failures,
    display_summary,
    write_page,
)
from harness.analysis.summary import (
    RANK_METRIC,
    best_and_worst_runs,
    curve_bands,
    failures,
    one_seed_per_setting,
    summarize,
)
from harness.provenance import rerun_command
from harness.report.search import SEARCH_FIGURE_TEXTS, SearchFacts, search_drawers, search_of
from harness.report.verdict import verdict
from harness.tracking import FINISHED, DamagedArtifact, open_store, scrub_text

ARTIFACT_DIR = "report"


def figure_texts(one_seed: bool) -> dict[str, tuple[str, str]]:
    """Each figure's title and caption, saying only what the figure draws (no band with one seed)."""
    spread = (
        "one run per setting (one seed)"
        if one_seed
        else "median over seeds (line) and min-max over seeds (shaded band)"
    )
    bars = "one seed: no error bars" if one_seed else "error bar: std over seeds"
    return {
        "loss_curves": (
            "Loss curves",
            f"Training loss per setting: {spread}, smoothed by a rolling geometric mean, on one log scale "
            "shared by every panel. A run that did not finish is drawn up to its last finite step and "
            f"marked {FAILURE_MARKER} on the top edge at the step it stopped; values above the axis are "
            "drawn on its top edge.",
        ),
        "fit": (
            "Fitted curve against the target",
            "The best seed of the best setting, and of the worst setting that finished, on [-1, 1]; each "
            "panel on the target's y-range, with a marker on its edge where the MLP leaves that range.",
        ),
        "sensitivity": (
            "Sensitivity",
            f"Mean {RANK_METRIC} over seeds ({bars}) against each numeric swept key, one marker per value, "
            "one series per value of the other swept keys (past six, each in grey under their median and "
            "the best setting's series; one series in all where no two points share them, as a search's "
            "trials).",
        ),
        "heatmap": (
            "Heatmap",
            f"Mean {RANK_METRIC} over seeds for each pair of values of the two swept keys "
            "(grey: none finished).",
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
    failures: pd.DataFrame  # display form, one row per run that did not finish: what the verdict lists
    logged_to_run: str | None
    problems: list[str] = field(default_factory=list)  # one line each: what the report could not read

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.markdown, self.runs_csv, self.summary_csv, *self.figures]


@dataclass(frozen=True)
class SweepRead:
    """Everything the report needs from the store, read before anything is drawn."""

    sweep: Sweep
    runs: pd.DataFrame
    summary: pd.DataFrame
    curves: pd.DataFrame  # every run's loss per step (see `sweep_curves`)
    fits: dict  # name (best, worst): (label, fit.npz arrays)
    jobs: str  # `4 recorded by the sweep, 3 found`
    search: SearchFacts | None
    problems: list[str]  # what could not be read, one line each


def fitted_curves(sweep: Sweep, runs: pd.DataFrame, summary: pd.DataFrame, problems: list[str]) -> dict:
    """`fit.npz` of the best setting's best seed and of the worst finished setting's best seed; a file
    that cannot be read is told in `problems` and left out."""
    fits = {}
    for name, run in best_and_worst_runs(runs, summary).items():
        try:
            arrays = load_fit(sweep.tracking_uri, run["run_id"])
        except DamagedArtifact as error:
            problems.append(f"run {run['run_id']} ({run['setting']}): {error}: its fit is not drawn")
            continue
        if arrays is not None:
            label = (
                f"{run['setting']}, seed {format_value(run[SEED_KEY])}, {RANK_METRIC} {run[RANK_METRIC]:.3g}"
            )
            fits[name] = (label, arrays)
    return fits


def jobs_fact(sweep: Sweep, runs: pd.DataFrame, search: SearchFacts | None) -> tuple[str, list[str]]:
    """`4 recorded by the sweep, 3 found: ...` and a line per job run that is missing from the store."""
    if sweep.root_run_id is None or sweep.root_run_id in set(runs["run_id"]):
        return f"{len(runs)} found (a single run)", []
    store = open_store(sweep.tracking_uri)
    recorded = store.run(sweep.root_run_id).data.params.get("n_jobs")
    deleted = store.deleted_sweep_jobs(sweep.experiment_id, sweep.sweep_id)
    missing = [
        f"run {run.info.run_id} ({run.info.run_name}) is deleted: "
        f"`mlflow runs restore --run-id {run.info.run_id}` brings it back"
        for run in deleted
    ]
    if recorded is None:
        return f"{len(runs)} found", missing
    unaccounted = int(recorded) - len(runs) - len(deleted)
    if unaccounted > 0 and search is None:
        missing.append(f"{unaccounted} job(s) have no run (never started, or removed from the store)")
    text = f"{recorded} recorded by the sweep, {len(runs)} found"
    return (text + f", {int(recorded) - len(runs)} missing" if int(recorded) > len(runs) else text), missing


def read_sweep(sweep: Sweep) -> SweepRead:
    """Every store read of the report: the runs, their curves, the two fits, the job count, the study."""
    runs = sweep_runs(sweep)
    if runs.empty:
        raise ReportError(f"sweep {sweep.sweep_id!r} has no job runs yet")
    summary = summarize(runs, sweep.setting_keys)
    search = search_of(sweep)
    jobs, problems = jobs_fact(sweep, runs, search)
    damaged: dict[str, str] = {}
    curves = sweep_curves(sweep, runs, damaged=damaged)
    settings = dict(zip(runs["run_id"], runs["setting"], strict=True))
    problems += [
        f"run {run_id} ({settings[run_id]}): {why}: its curve is its loss metric"
        for run_id, why in damaged.items()
    ]
    fits = fitted_curves(sweep, runs, summary, problems)
    return SweepRead(sweep, runs, summary, curves, fits, jobs, search, problems)


def draw_figures(read: SweepRead) -> list[ReportFigure]:
    """The figures that say something for this sweep, as PNG bytes, with their titles and captions;
    drawn from what `read_sweep` read (no store reads here)."""
    runs, summary, search = read.runs, read.summary, read.search
    keys = read.sweep.setting_keys
    one_seed = one_seed_per_setting(runs, keys)
    texts = figure_texts(one_seed) | SEARCH_FIGURE_TEXTS
    drawers = {
        "fit": lambda: fit_figure(read.fits),
        "sensitivity": lambda: sensitivity_figure(summary, keys, error_bars=not one_seed),
    }
    # In a search each trial is a setting of its own: one panel per setting would be 48 panels for 48
    # trials, and a grid's heatmap mostly empty cells. Its own figures show the best trial's curves and
    # the pruned ones, and its trials over its two most important parameters.
    if search is None:
        drawers = {
            "loss_curves": lambda: loss_curves_figure(
                curve_bands(read.curves), summary, keys, failures(runs), bands_drawn=not one_seed
            ),
            **drawers,
            "heatmap": lambda: heatmap_figure(summary, keys),
        }
    if search is not None:
        drawers |= search_drawers(search, runs, read.curves)
    return draw_in_parallel({name: (texts[name], drawer) for name, drawer in drawers.items()})


def reproduce_commands(runs: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per setting, the command that reruns its best seed's run (its first run when none finished)."""
    first = runs.groupby("setting", sort=False)["run_id"].first()
    rows = []
    for _, row in summary.iterrows():
        run_id = row["best_run_id"] if isinstance(row["best_run_id"], str) else first[row["setting"]]
        rows.append({"setting": row["setting"], "command": rerun_command(run_id)})
    return pd.DataFrame(rows, columns=["setting", "command"])


def report_page(read: SweepRead) -> ReportPage:
    """The page; `read.problems` lists what it could not read (a missing job, a damaged artifact)."""
    sweep, runs, summary = read.sweep, read.runs, read.summary
    n_finished = int((runs["status"] == FINISHED).sum())
    facts = {
        "experiment": sweep.experiment,
        "sweep": sweep.sweep_id,
        "parent run": sweep.root_run_id or "none",
        "store": scrub_text(sweep.tracking_uri),
        "picked": sweep.picked or "by its id",
        "swept keys": ", ".join(sweep.swept_keys) or "none (a single run)",
        "overrides": sweep.overrides or "none",
        "jobs": read.jobs,
        "runs": f"{len(runs)} ({n_finished} finished, {len(runs) - n_finished} did not)",
    }
    if read.search is not None:
        facts |= read.search.facts
    if read.problems:
        facts["not reported"] = "; ".join(read.problems)
    return ReportPage(
        title=f"Sweep {sweep.sweep_id}",
        facts=facts,
        verdict=verdict(runs, summary),
        all_failed=n_finished == 0,
        summary=display_summary(summary, sweep.setting_keys, one_seed_per_setting(runs, sweep.setting_keys)),
        failures=display_failures(failures(runs)),
        figures=draw_figures(read),
        sections={"Reproduce": reproduce_commands(runs, summary)},
    )


def build_report(found: Sweep, out_dir: str | Path = "reports") -> ReportFiles:
    """Write every file of the report of one sweep (see `find_sweep`) and log them to its parent run:
    everything is read from the store first, then drawn, then written."""
    read = read_sweep(found)
    runs, summary, problems = read.runs, read.summary, read.problems
    page = report_page(read)
    directory = Path(out_dir) / found.sweep_id
    html, markdown, figures = write_page(page, directory, "report")
    files = ReportFiles(
        sweep=found,
        directory=directory,
        html=html,
        markdown=markdown,
        runs_csv=directory / "runs.csv",
        summary_csv=directory / "summary.csv",
        figures=figures,
        verdict=page.verdict,
        summary=page.summary,
        failures=page.failures,
        logged_to_run=found.root_run_id,
        problems=problems,
    )
    runs.to_csv(files.runs_csv, index=False)
    summary.to_csv(files.summary_csv, index=False)
    for stale in set(directory.iterdir()) - set(files.paths):  # an earlier report's figure, not drawn now
        if stale.is_file():
            stale.unlink()
    if found.root_run_id:
        open_store(found.tracking_uri).replace_artifacts(found.root_run_id, files.paths, ARTIFACT_DIR)
    return files


def write_report(
    experiment: str | None = None,
    sweep: str = LATEST,
    out_dir: str | Path = "reports",
    tracking_uri: str | None = None,
) -> Path:
    """The runner's entry (docs/contracts.md): write the report and return the path of report.html."""
    return build_report(find_sweep(experiment, sweep, tracking_uri), out_dir).html
