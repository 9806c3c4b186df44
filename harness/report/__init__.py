"""The report: a sweep read from the store (through the gateway) into pandas, then HTML, Markdown, CSV
and figures; `pair_sweeps` and `write_compare` compare two sweeps. `python -m harness.report` is
`harness.report.cli`; the runner starts it through `write_report` only."""

from harness.report.build import ReportFiles, build_report, write_report
from harness.report.cli import main
from harness.report.compare.page import CompareFiles, write_compare
from harness.report.compare.pairing import pair_sweeps
from harness.report.data import ReportError, find_sweep, load_curves, load_runs
from harness.report.outcome import SweepOutcome, sweep_outcome
from harness.report.summary import summarize

__all__ = [
    "CompareFiles",
    "pair_sweeps",
    "write_compare",
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
