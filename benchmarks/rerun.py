"""A 64-job sweep with the vectorized launcher, then its rerun: time of the rerun against the original.

    python benchmarks/rerun.py                    # 64 seeds, 2000 steps, 3 repeats
    python benchmarks/rerun.py --steps 500 --repeats 1

Each repeat, in a fresh temporary directory with its own sqlite store (made first, so that neither
command pays MLflow's migrations): `python -m harness.run -m seed=range(0,64) steps=S report=false
register=false hydra/launcher=vectorized hydra.launcher.n_jobs=2`, then `python -m harness.run
rerun=<its sweep id>` with the same launcher, which must print `64/64 identical`. Printed: the medians
of the wall times of both commands and their ratio (target, issue 21: rerun <= 1.1x the original).
The rerun does more than the sweep by design: it reads every stored run (status, artifacts, code
version) before Hydra starts, and each job reads its stored config and curve and compares.
The machine may be shared: compare the ratio from one run, not absolute times across runs.
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

LAUNCHER = ["hydra/launcher=vectorized", "hydra.launcher.n_jobs=2"]


def environment(directory: Path) -> dict[str, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{directory / 'mlflow.db'}"
    return env


def timed(directory: Path, arguments: list[str]) -> tuple[float, str]:
    folders = [f"hydra.sweep.dir={directory}/multirun", f"hydra.run.dir={directory}/outputs"]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "harness.run", *arguments, *folders],
        cwd=directory,
        env=environment(directory),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def sweep_id(directory: Path) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=environment(directory)["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("autograd-mlp")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.role = 'sweep'")
    return parent.data.tags["sweep_id"]


def one_repeat(jobs: int, steps: int) -> tuple[float, float]:
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory(prefix="bench-rerun-") as folder:
        directory = Path(folder)
        MlflowClient(tracking_uri=environment(directory)["MLFLOW_TRACKING_URI"]).search_experiments()
        sweep = [
            "-m",
            f"seed=range(0,{jobs})",
            f"steps={steps}",
            "report=false",
            "register=false",
            *LAUNCHER,
        ]
        original, _ = timed(directory, sweep)
        rerun, printed = timed(directory, [f"rerun={sweep_id(directory)}", *LAUNCHER])
        if f"{jobs}/{jobs} identical" not in printed:
            raise SystemExit(f"the rerun is not {jobs}/{jobs} identical:\n{printed}")
        return original, rerun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = []
    for repeat in range(args.repeats):
        times.append(one_repeat(args.jobs, args.steps))
        original, rerun = times[-1]
        print(f"repeat {repeat + 1}: sweep {original:.1f} s, rerun {rerun:.1f} s", file=sys.stderr)
    original = statistics.median(t[0] for t in times)
    rerun = statistics.median(t[1] for t in times)
    ratios = ", ".join(f"{r / o:.2f}" for o, r in times)
    print("| jobs | steps | repeats | original sweep (s) | rerun (s) | rerun / original | each repeat |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {args.jobs} | {args.steps} | {args.repeats} | {original:.1f} | {rerun:.1f} "
        f"| {rerun / original:.2f}x | {ratios} |"
    )
    print(f"{args.jobs}/{args.jobs} identical in every repeat; target: rerun / original <= 1.1x")


if __name__ == "__main__":
    main()
