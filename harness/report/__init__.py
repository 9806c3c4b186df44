"""The report: a sweep read from the store (through the gateway) into pandas, then HTML, Markdown, CSV
and figures, from the parts in `harness.analysis`. `python -m harness.report` is `harness.report.cli`
(`--compare A B`: `harness.compare`); the runner starts it through `write_report` only."""

from harness.analysis.data import ReportError, find_sweep, load_curves, load_runs
from harness.analysis.summary import summarize
from harness.report.build import ReportFiles, build_report, write_report
from harness.report.cli import main
from harness.report.outcome import SweepOutcome, sweep_outcome

__all__ = [
    "ReportError",
    "ReportFiles",
    "build_report",
    "find_sweep",
    "load_curves",
    "load_runs",
    "main",
    "summarize",
    "SweepOutcome",
    "sweep_outcome",
    "write_report",
]
