"""How soon a large sweep starts, and what the launching process holds meanwhile.

    python benchmarks/planning.py                          # 2,000 and 20,000 jobs, this checkout
    python benchmarks/planning.py --jobs 2000 --python /root/.pyenv/shims/python --python .venv/bin/python

Runs `python -m harness.run -m 'seed=range(0,N)' hydra/launcher=vectorized report=false steps=1`
(issue 22) in a fresh temporary directory with its own sqlite store, once per interpreter given (each
runs the harness it has installed: compare a main checkout with a branch in one run), and watches it:
seconds from the command to the first job's folder (`<sweep dir>/0/.hydra`), the launching process's
peak RSS, and the most job runs RUNNING at once in the store. After the first job starts it is
watched `--watch` seconds more, then stopped (SIGTERM: its runs end KILLED); a sweep that starts no job
in `--timeout` seconds is stopped too and shown as such.

Targets (issue 22): first job <= 30 s after the command for 20,000 jobs, launching process < 500 MB,
runs created when their job starts (never hundreds RUNNING ahead of their training).
The machine may be shared: compare interpreters from one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.2


def environment() -> dict[str, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def running_jobs(db: Path) -> int:
    """Job runs RUNNING now (the sweep's parent run is not counted)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            (count,) = connection.execute(
                "select count(*) from runs where status = 'RUNNING' and name not like 'sweep %'"
            ).fetchone()
        return count
    except sqlite3.Error:  # the store is being created, or locked by a writer: ask again next time
        return 0


def finished_jobs(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
        (count,) = connection.execute("select count(*) from runs where status = 'FINISHED'").fetchone()
    return count


def watch(python: str, jobs: int, seconds_after_start: float, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="planning-bench-") as tmp:
        sweep_dir = Path(tmp) / "multirun"
        command = [
            python, "-m", "harness.run", "-m", f"seed=range(0,{jobs})", "hydra/launcher=vectorized",
            "report=false", "steps=1", f"hydra.sweep.dir={sweep_dir}",
        ]  # fmt: skip
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=tmp,
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        launcher = psutil.Process(process.pid)
        first_job = None
        peak_rss = most_running = 0
        next_count = 0.0
        while process.poll() is None:
            now = time.perf_counter() - started
            try:
                peak_rss = max(peak_rss, launcher.memory_info().rss)
            except psutil.Error:
                break
            if first_job is None and (sweep_dir / "0" / ".hydra").exists():
                first_job = now
            if now >= next_count:  # the store is read once a second: it has its own cost
                most_running = max(most_running, running_jobs(Path(tmp) / "mlflow.db"))
                next_count = now + 1.0
            deadline = timeout if first_job is None else first_job + seconds_after_start
            if now > deadline:
                os.killpg(process.pid, signal.SIGTERM)
                break
            time.sleep(SAMPLE_SECONDS)
        process.wait()
        wall = time.perf_counter() - started
        done = finished_jobs(Path(tmp) / "mlflow.db") if (Path(tmp) / "mlflow.db").exists() else 0
    return {
        "python": python,
        "jobs": jobs,
        "first_job": first_job,
        "peak_mb": peak_rss / 2**20,
        "most_running": most_running,
        "finished": done,
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--python", nargs="+", default=[sys.executable], help="interpreters to compare")
    parser.add_argument("--watch", type=float, default=30.0, help="seconds watched after the first job")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up when no job started by then")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(
        f"{'python':<40} {'jobs':>6} {'first job s':>12} {'peak MB':>8} {'most RUNNING':>13}"
        f" {'FINISHED':>9} {'watched s':>10}"
    )
    for jobs in args.jobs:
        for python in args.python:
            r = watch(python, jobs, args.watch, args.timeout)
            first = f"{r['first_job']:.1f}" if r["first_job"] is not None else f"> {args.timeout:.0f}"
            print(
                f"{python:<40} {jobs:>6} {first:>12} {r['peak_mb']:>8.0f} {r['most_running']:>13}"
                f" {r['finished']:>9} {r['wall']:>10.1f}",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end (2 cores: above 2 means other work shared them)")


if __name__ == "__main__":
    main()
