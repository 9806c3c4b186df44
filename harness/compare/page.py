"""`python -m harness.report --compare A B`: the page that answers "did my change help?", setting by
setting. Reads both sweeps first (`pair_sweeps`), then computes and draws, then writes
DIR/compare-<A>-vs-<B>/ (compare.html, compare.md, compare.csv, the PNGs) and logs those files under
`compare/<A>/` of B's parent run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.drawing import draw_figures
from harness.analysis.render import MISSING, ReportPage, number, write_page
from harness.analysis.summary import RANK_METRIC
from harness.compare.figures import FIGURE_TEXTS, curves_figure, settings_figure
from harness.compare.pairing import Pairing, Side, seeds_of
from harness.compare.stats import (
    COMPARED_METRICS,
    CONFIDENCE,
    Change,
    biggest,
    compare_settings,
    scored,
    verdict,
)
from harness.tracking import FINISHED, open_store, scrub_text

ARTIFACT_DIR = "compare"


@dataclass(frozen=True)
class CompareFiles:
    pairing: Pairing
    directory: Path  # compare.html, compare.md, compare.csv and the figures
    figures: list[Path]
    verdict: str
    table: pd.DataFrame  # the score's table, as printed

    @property
    def html(self) -> Path:
        return self.directory / "compare.html"

    @property
    def markdown(self) -> Path:
        return self.directory / "compare.md"

    @property
    def csv(self) -> Path:
        return self.directory / "compare.csv"

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.markdown, self.csv, *self.figures]

    @property
    def logged_to(self) -> str | None:
        """B's parent run (or B's single run)."""
        return self.pairing.b.sweep.root_run_id

    @property
    def artifact_path(self) -> str:
        return f"{ARTIFACT_DIR}/{self.pairing.a.sweep.sweep_id}"


def mean_std(values: np.ndarray) -> str:
    if not len(values):
        return MISSING
    if len(values) == 1:
        return f"{number(float(values[0]))} (1 seed)"
    return f"{number(float(np.mean(values)))} ± {number(float(np.std(values, ddof=1)))}"


def interval(change: Change) -> str:
    if math.isnan(change.difference):
        return MISSING
    if math.isnan(change.low):
        return number(change.difference)
    return f"{number(change.difference)} [{number(change.low)}, {number(change.high)}]"


def metric_table(changes: list[Change], metric: str) -> pd.DataFrame:
    """One row per paired setting: A, B, B - A with its interval, B / A, the test, p, the outcome."""
    rows = [
        {
            "setting": change.setting,
            "A (mean ± std)": mean_std(change.a),
            "B (mean ± std)": mean_std(change.b),
            f"B − A [{CONFIDENCE:.0%} interval]": interval(change),
            "B / A": number(change.ratio),
            "test": change.test,
            "p": MISSING if math.isnan(change.p_value) else f"{change.p_value:.2g}",
            "B is": change.outcome,
        }
        for change in changes
        if change.metric == metric
    ]
    return pd.DataFrame(rows)


def csv_frame(changes: list[Change]) -> pd.DataFrame:
    """The numbers behind the tables, one row per setting and metric."""
    return pd.DataFrame(
        [
            {
                "setting": change.setting,
                "metric": change.metric,
                "n_a": len(change.a),
                "n_b": len(change.b),
                "mean_a": np.mean(change.a) if len(change.a) else math.nan,
                "std_a": np.std(change.a, ddof=1) if len(change.a) > 1 else math.nan,
                "mean_b": np.mean(change.b) if len(change.b) else math.nan,
                "std_b": np.std(change.b, ddof=1) if len(change.b) > 1 else math.nan,
                "difference": change.difference,
                "ci_low": change.low,
                "ci_high": change.high,
                "ratio": change.ratio,
                "test": change.test,
                "p_value": change.p_value,
                "outcome": change.outcome,
            }
            for change in changes
        ]
    )


def unpaired_table(pairing: Pairing, side: Side, settings: list[tuple]) -> pd.DataFrame:
    rows = []
    for setting in settings:
        runs = pairing.runs_of(side, setting)
        finished = int((runs["status"] == FINISHED).sum())
        rows.append(
            {
                "setting": pairing.label(setting),
                "runs": len(runs),
                "finished": finished,
                "seeds": seeds_of(runs),
            }
        )
    return pd.DataFrame(rows)


def sweep_fact(side: Side) -> str:
    sweep = side.sweep
    return f"{sweep.sweep_id} (parent run {sweep.root_run_id or 'none'}; code {side.code_version})"


def facts(pairing: Pairing) -> dict[str, str]:
    changed = "; ".join(f"{key}: {a} → {b}" for key, (a, b) in pairing.changed.items())
    versions = (pairing.a.code_version, pairing.b.code_version)
    if versions[0] != versions[1]:
        changed = "; ".join(filter(None, [f"code: {versions[0]} → {versions[1]}", changed]))
    paired_on = (
        "the keys named with --by: " + ", ".join(pairing.by)
        if pairing.by
        else "every config key but the seed (and the code version)"
    )
    if pairing.best_found:
        paired_on = pairing.best_found
    return {
        "experiment": pairing.b.sweep.experiment,
        "A": sweep_fact(pairing.a),
        "B": sweep_fact(pairing.b),
        "store": scrub_text(pairing.b.sweep.tracking_uri),
        "settings paired on": paired_on,
        "what differs": changed or "nothing in the config or the code",
        "settings": (
            f"{len(pairing.shared)} paired, {len(pairing.only_a)} only in A, {len(pairing.only_b)} only in B"
        ),
    }


def setting_of(pairing: Pairing, label: str) -> tuple:
    return next(setting for setting in pairing.shared if pairing.label(setting) == label)


def long_curves(pairing: Pairing, side: Side, setting: tuple) -> pd.DataFrame:
    """The curves of the setting's finished runs in one side: step, loss, run_id."""
    runs = pairing.runs_of(side, setting)
    pieces = [
        pd.DataFrame(
            {"run_id": run_id, "step": np.arange(len(side.curves[run_id])), "loss": side.curves[run_id]}
        )
        for run_id in runs["run_id"]
        if run_id in side.curves
    ]
    return (
        pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=["run_id", "step", "loss"])
    )


def most_changed(changes: list[Change]) -> Change | None:
    """The biggest change beyond seed noise, else the largest factor among the rest."""
    named = biggest(changes, 1)
    if named:
        return named[0]
    finite = [change for change in scored(changes) if change.ratio > 0]
    return max(finite, key=lambda change: abs(math.log(change.ratio)), default=None)


def compare_page(pairing: Pairing) -> tuple[ReportPage, list[Change]]:
    changes = compare_settings(pairing)
    top = most_changed(changes)
    curves = (None, None)
    if top is not None:
        setting = setting_of(pairing, top.setting)
        curves = (long_curves(pairing, pairing.a, setting), long_curves(pairing, pairing.b, setting))
    drawers = {"compare_settings": lambda: settings_figure(changes)}
    if top is not None:
        drawers["compare_curves"] = lambda: curves_figure(top, *curves)
    figures = draw_figures({name: (FIGURE_TEXTS[name], drawer) for name, drawer in drawers.items()})
    score = metric_table(changes, RANK_METRIC)
    sections = {f"{metric}: B against A": metric_table(changes, metric) for metric in COMPARED_METRICS[1:]}
    sections |= {
        "Settings only in A": unpaired_table(pairing, pairing.a, pairing.only_a),
        "Settings only in B": unpaired_table(pairing, pairing.b, pairing.only_b),
    }
    page = ReportPage(
        title=f"Compare {pairing.a.sweep.sweep_id} (A) with {pairing.b.sweep.sweep_id} (B)",
        facts=facts(pairing),
        verdict=verdict(pairing, changes),
        all_failed=False,
        summary=score,
        failures=pd.DataFrame(),
        figures=figures,
        sections=sections,
        summary_heading=f"{RANK_METRIC} (the score): B against A",
    )
    return page, changes


def write_compare(pairing: Pairing, out_dir: str | Path = "reports") -> CompareFiles:
    """Compute, draw and write the compare page of a pairing (see `pair_sweeps`), and log it on B's
    parent run."""
    page, changes = compare_page(pairing)
    directory = Path(out_dir) / f"compare-{pairing.a.sweep.sweep_id}-vs-{pairing.b.sweep.sweep_id}"
    _, _, figures = write_page(page, directory, "compare")
    files = CompareFiles(pairing, directory, figures, page.verdict, page.summary)
    csv_frame(changes).to_csv(files.csv, index=False)
    if files.logged_to:
        open_store(pairing.b.sweep.tracking_uri).replace_artifacts(
            files.logged_to, files.paths, files.artifact_path
        )
    return files
