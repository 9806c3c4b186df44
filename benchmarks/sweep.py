"""How long a 16-job sweep of the default experiment takes end to end, and what the harness adds.

    python benchmarks/sweep.py [--jobs 16] [--steps 3000] [--repeats 3] [--launchers basic joblib]

Each sweep is `python -m harness.run -m seed=range(N) report=false` (Hydra, training, MLflow,
plots: everything but the report) in a fresh temporary directory with its own sqlite store, once
with the basic launcher and once with `hydra/launcher=joblib` (2 workers). The training time is
what the runs themselves recorded (`train_seconds`).

Overhead per job = (wall time - total training time) / jobs, as the issue defines it: everything but
the training loops (process start, imports, store creation, Hydra, MLflow, plots), per job. With
parallel workers that hides work done side by side, so the worker time per job is printed too:
(wall time x workers - total training time) / jobs. A one-job sweep of the same launcher, run beside
it, splits the overhead into what a sweep pays once (start-up: process, imports, a fresh store,
the parent run) and what each further job adds (marginal s/job). Every figure is the median of
--repeats runs.
Targets: overhead <= 0.5 s per job; the joblib sweep <= 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCHERS = {"basic": ([], 1), "joblib": (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 2)}


def run_sweep(launcher: str, jobs: int, steps: int) -> dict:
    extra, workers = LAUNCHERS[launcher]
    with tempfile.TemporaryDirectory(prefix=f"sweep-bench-{launcher}-") as tmp:
        command = [
            sys.executable,
            "-m",
            "harness.run",
            "-m",
            f"seed=range({jobs})",
            f"steps={steps}",
            "report=false",
            f"hydra.sweep.dir={tmp}/multirun",
            *extra,
        ]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
        env.pop("MLFLOW_TRACKING_URI", None)
        started = time.perf_counter()
        done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{launcher} sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
        train_seconds, finished = read_runs(Path(tmp) / "mlflow.db")
    if finished != jobs:
        sys.exit(f"{launcher}: expected {jobs} FINISHED runs, found {finished}")
    return {
        "launcher": launcher,
        "workers": workers,
        "wall": wall,
        "train": train_seconds,
        "overhead": (wall - train_seconds) / jobs,
        "worker_overhead": (wall * workers - train_seconds) / jobs,
    }


def read_runs(db: Path) -> tuple[float, int]:
    from mlflow.tracking import MlflowClient

    from harness.tracking import DEFAULT_EXPERIMENT, Tags

    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], f"tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'")
    train = sum(run.data.metrics["train_seconds"] for run in runs)
    return train, sum(run.info.status == "FINISHED" for run in runs)


def median_sweep(launcher: str, jobs: int, steps: int, repeats: int) -> dict:
    """The median of each figure over `repeats` sweeps, and the start-up and marginal costs beside it."""
    runs = [run_sweep(launcher, jobs, steps) for _ in range(repeats)]
    singles = [run_sweep(launcher, 1, steps) for _ in range(repeats)]
    result = {key: statistics.median(run[key] for run in runs) for key in ("wall", "train", "overhead")}
    result["worker_overhead"] = statistics.median(run["worker_overhead"] for run in runs)
    startup = statistics.median(single["wall"] - single["train"] for single in singles)
    result.update(launcher=launcher, workers=runs[0]["workers"], startup=startup)
    result["marginal"] = (result["wall"] - result["train"] - startup) / max(jobs - 1, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--launchers", nargs="+", default=list(LAUNCHERS), choices=list(LAUNCHERS))
    args = parser.parse_args()
    print(
        f"{args.jobs}-job sweep of the default experiment ({args.steps} steps a job), {os.cpu_count()} cores,"
        f" medians of {args.repeats}"
    )
    print(
        f"{'launcher':<8} {'workers':>7} {'wall s':>7} {'train s':>8} {'overhead s/job':>15}"
        f" {'worker s/job':>13} {'start-up s':>11} {'marginal s/job':>15}"
    )
    for launcher in args.launchers:
        r = median_sweep(launcher, args.jobs, args.steps, args.repeats)
        print(
            f"{r['launcher']:<8} {r['workers']:>7} {r['wall']:>7.2f} {r['train']:>8.2f}"
            f" {r['overhead']:>15.3f} {r['worker_overhead']:>13.3f}"
            f" {r['startup']:>11.2f} {r['marginal']:>15.3f}"
        )
    print("overhead = (wall - total train_seconds) / jobs; worker s/job = (wall x workers - train) / jobs")
    print("start-up = wall - train of a 1-job sweep; marginal = (wall - train - start-up) / (jobs - 1)")
    print("targets: overhead <= 0.5 s/job; joblib wall <= 20 s")


if __name__ == "__main__":
    main()
