"""The report: a sweep read from the store (through the gateway) into pandas, then HTML, Markdown, CSV
and figures, from the parts in `harness.analysis`. `python -m harness.report` is `harness.report.cli`
(`--compare A B`: `harness.compare`); the runner starts it through `write_report` only.

The names below load on first use (PEP 562): `python -m harness.report` imports this package before
its `__main__`, which must start before MLflow loads (harness.collector)."""

from harness.lazy_names import lazy_names

# name -> the module that defines it
_HOMES = {
    "ReportError": "harness.analysis.data",
    "find_sweep": "harness.analysis.data",
    "load_curves": "harness.analysis.data",
    "load_runs": "harness.analysis.data",
    "summarize": "harness.analysis.summary",
    "ReportFiles": "harness.report.build",
    "build_report": "harness.report.build",
    "write_report": "harness.report.build",
    "main": "harness.report.cli",
    "SweepOutcome": "harness.report.outcome",
    "sweep_outcome": "harness.report.outcome",
}
__getattr__ = lazy_names(__name__, _HOMES)
__all__ = sorted(_HOMES)
