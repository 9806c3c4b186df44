"""`python -m harness.report [--experiment E] [--sweep ID|latest] [--out DIR]`: write a sweep's report,
print its summary and where every file went. `--compare [A B] [--by KEY ...]`: compare two sweeps
setting by setting (harness.report.compare)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report.build import ARTIFACT_DIR, build_report
from harness.report.compare.page import write_compare
from harness.report.compare.pairing import pair_sweeps
from harness.report.data import LATEST, ReportError, find_sweep
from harness.tracking import StoreAccessError, check_access, resolve_tracking_uri, where_to_look

REASON_WIDTH = 90  # characters of a failure's reason on the terminal (the report pages have it whole)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m harness.report",
        description="Write the report of one sweep (HTML, Markdown, CSV, PNG) and log it to its parent run.",
    )
    parser.add_argument("--experiment", help="MLflow experiment (default: the runner's, autograd-mlp)")
    parser.add_argument(
        "--sweep",
        default=LATEST,
        help="sweep id, or `latest` (default): the latest sweep of more than one job, else the latest run",
    )
    parser.add_argument(
        "--compare",
        nargs="*",
        metavar="SWEEP",
        help="compare two sweeps (ids or run ids), A then B; none: the two latest sweeps of more than "
        "one job",
    )
    parser.add_argument(
        "--by",
        action="append",
        metavar="KEY",
        help="with --compare: pair settings on this config key only (repeatable); default: every key "
        "but the seed",
    )
    parser.add_argument("--out", default="reports", help="directory of the reports (default: reports)")
    parser.add_argument(
        "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)"
    )
    args = parser.parse_args(argv)
    if args.compare is not None and len(args.compare) not in (0, 2):
        parser.error(f"--compare takes two sweeps (A B) or none (the two latest), not {len(args.compare)}")
    if args.by and args.compare is None:
        parser.error("--by pairs the settings of a --compare: add --compare A B")
    return args


def compare(args: argparse.Namespace) -> int:
    """Read both sweeps, then write the page; print the verdict, the score's table and the files."""
    try:
        check_access(args.tracking_uri or resolve_tracking_uri())
        a, b = args.compare or (None, None)
        pairing = pair_sweeps(args.experiment, a, b, args.by, args.tracking_uri)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        files = write_compare(pairing, args.out)
    except (ReportError, StoreAccessError) as error:
        print(f"harness.report: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"harness.report: cannot write to {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"A: sweep {pairing.a.sweep.sweep_id}   B: sweep {pairing.b.sweep.sweep_id}")
    print(files.verdict)
    print(files.table.to_string(index=False))
    print()
    for path in files.paths:
        print(f"wrote {path}")
    if files.logged_to:
        look = where_to_look(pairing.b.sweep.tracking_uri)
        print(f"logged to MLflow run {files.logged_to} (B's) under {files.artifact_path}/: {look}")
    print(f"open {files.html.resolve().as_uri()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare is not None:
        return compare(args)
    try:
        check_access(args.tracking_uri or resolve_tracking_uri())
        sweep = find_sweep(args.experiment, args.sweep, args.tracking_uri)
        Path(args.out).mkdir(parents=True, exist_ok=True)  # an --out that cannot be written: before any read
        files = build_report(sweep, args.out)
    except (ReportError, StoreAccessError) as error:
        print(f"harness.report: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # --out that cannot be written: a folder under /proc, read-only, full
        print(
            f"harness.report: cannot write the report to {args.out}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    if files.sweep.picked:
        print(f"Reporting {files.sweep.picked}: sweep {files.sweep.sweep_id} (pick another with --sweep ID)")
    print(f"Sweep {files.sweep.sweep_id} ({files.sweep.experiment}): one row per setting, best first")
    print(files.summary.to_string(index=False))
    print(files.verdict)
    if len(files.failures):  # the verdict says "listed below": here they are, as on the report page
        print("Runs that did not finish:")
        print(files.failures.to_string(index=False, max_colwidth=REASON_WIDTH))
    print()
    for path in files.paths:
        print(f"wrote {path}")
    if files.logged_to_run:
        look = where_to_look(files.sweep.tracking_uri)
        print(f"logged to MLflow run {files.logged_to_run} under {ARTIFACT_DIR}/: {look}")
    print(f"open {files.html.resolve().as_uri()}")
    for problem in files.problems:
        print(f"harness.report: not reported: {problem}", file=sys.stderr)
    return 0
