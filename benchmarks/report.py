"""The report of a study-sized sweep, in a fresh process and in-process, for one or two checkouts.

    python benchmarks/report.py --store /tmp/study                 # makes the sweep there once, then times
    python benchmarks/report.py --store /tmp/study --repo /path/to/main --repo .  --runs 5

The sweep is the 256-job grid of benchmarks/sweep.py (4 lr x 4 weight_decay x 4 width x 4 seed) at
`--steps` steps a job (default 300: the report's work does not grow with the steps past ~600 points a
curve), made with the vectorized launcher and `report=false` unless `--store` already holds it. Each
checkout's report runs alternately (a loaded machine slows both alike): `python -m harness.report` in a
fresh process (issue 22's target: <= 8 s), and `build_report` in a process that has already imported
everything and opened the store, but read nothing (the report after a sweep: <= 5 s). Medians, and
each repo's ratio to the first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from startup import environment as checkout_environment  # benchmarks/ is sys.path[0]: a script

GRID = ["lr=3e-4,1e-3,3e-3,1e-2", "weight_decay=0,1e-4,1e-3,1e-2", "width=16,32,64,128", "seed=0,1,2,3"]
IN_PROCESS = """
import contextlib, sys, time
try:  # start as a sweep's command does: MLflow's imports frozen out of the collector's walks
    from harness.collector import as_command, imports_frozen
    as_command()
except ImportError:  # a checkout from before harness.collector
    imports_frozen = contextlib.nullcontext
with imports_frozen():
    from harness.report import build_report, find_sweep
    import harness.report.build, harness.analysis.figures  # everything a sweep's process has loaded
    from harness.tracking import check_access, resolve_tracking_uri
    check_access(resolve_tracking_uri())  # ... and the store it wrote to
start = time.perf_counter()
build_report(find_sweep(), sys.argv[1])
print(time.perf_counter() - start)
"""


def environment(repo: Path, store: Path) -> dict[str, str]:
    return checkout_environment(repo) | {"MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"}


def make_sweep(store: Path, steps: int, repo: Path) -> None:
    store.mkdir(parents=True, exist_ok=True)
    if (store / "mlflow.db").exists():
        return
    command = [sys.executable, "-m", "harness.run", "-m", *GRID, f"steps={steps}"]
    command += ["hydra/launcher=vectorized", "report=false"]
    print("making the sweep:", " ".join(command[2:]), flush=True)
    subprocess.run(command, cwd=store, env=environment(repo, store), check=True, capture_output=True)


def timed_report(repo: Path, store: Path, fresh: bool) -> float:
    out = tempfile.mkdtemp(prefix="report-bench-")
    try:
        if fresh:
            start = time.perf_counter()
            command = [sys.executable, "-m", "harness.report", "--out", out]
            subprocess.run(command, cwd=store, env=environment(repo, store), check=True, capture_output=True)
            return time.perf_counter() - start
        command = [sys.executable, "-c", IN_PROCESS, out]
        result = subprocess.run(
            command, cwd=store, env=environment(repo, store), check=True, capture_output=True, text=True
        )
        return float(result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--store", type=Path, required=True, help="folder of the sweep's mlflow.db")
    parser.add_argument("--repo", type=Path, action="append", help="checkouts to compare (default: .)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    repos = [repo.resolve() for repo in args.repo or [Path(".")]]
    make_sweep(args.store.resolve(), args.steps, repos[-1])
    times = {(repo, fresh): [] for repo in repos for fresh in (True, False)}
    for _ in range(args.runs):
        for repo in repos:
            for fresh in (True, False):
                times[repo, fresh].append(timed_report(repo, args.store.resolve(), fresh))
    load = os.getloadavg()[0]
    print(f"report of the latest sweep in {args.store}, medians of {args.runs}, load {load:.1f} at the end")
    print(f"{'repo':40} {'fresh process s':>16} {'ratio':>6} {'in-process s':>13} {'ratio':>6}")
    first = {fresh: statistics.median(times[repos[0], fresh]) for fresh in (True, False)}
    for repo in repos:
        fresh, warm = (statistics.median(times[repo, kind]) for kind in (True, False))
        ratios = fresh / first[True], warm / first[False]
        print(f"{str(repo)[-40:]:40} {fresh:16.2f} {ratios[0]:6.2f} {warm:13.2f} {ratios[1]:6.2f}")
    print("targets (issue 22): fresh process <= 8 s, in-process <= 5 s")


if __name__ == "__main__":
    main()
