"""A study-scale sweep end to end, per launcher, against training the same configs with the engine alone.

    python benchmarks/sweep.py                 # the 256-job grid, 3000 steps: basic, joblib, vectorized
    python benchmarks/sweep.py --quick         # a 16-job grid, 500 steps: about a minute
    python benchmarks/sweep.py --launchers vectorized --repeats 3
    python benchmarks/sweep.py --launchers vectorized --python /root/.pyenv/shims/python .venv/bin/python

The grid is `-m lr=3e-4,1e-3,3e-3,1e-2 weight_decay=0,1e-4,1e-3,1e-2 width=16,32,64,128
seed=0,1,2,3 report=false` (issue 9). Each sweep runs `python -m harness.run` in a fresh temporary
directory with its own sqlite store (Hydra, training, MLflow, plots: everything but the report), then
`python -m harness.report` on it. The baseline, measured in the same run, is the same configs trained
one after another by `harness.training.loop.train` in one fresh process: the engine's loop with its
inputs, no Hydra, no MLflow, nothing written.

`--python` runs the sweeps with each interpreter given (each runs the harness it has installed: a
main checkout against a branch, one baseline for both). Printed per interpreter and launcher (medians
of --repeats): wall time of the sweep, the training time the runs
recorded (`train_seconds`; a batch's time is shared among its runs), overhead per job = (wall -
training) / jobs, the report's wall time, the store's bytes per run (the sqlite file; the artifact
files beside), and ratio = (sweep + report) / baseline.
Targets (issue 9): vectorized sweep + report <= 0.5x the baseline; report <= 5 s; store <= 150 KiB/run.
The machine may be shared: compare ratios from one run, not absolute times across runs.

Two floors, measured in the same run, say what no launcher can go below while every job is a Hydra job
with its own MLflow run and plots: `1-step` is the same sweep plus report with one training step a job
(all of the bookkeeping, almost none of the training), as a ratio to the baseline; `mlflow start` is a
fresh process opening the sweep's store with `MlflowClient` and running one query (the report's own
floor: importing MLflow's SQL store and mapping its tables).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL_GRID = {
    "lr": ["3e-4", "1e-3", "3e-3", "1e-2"],
    "weight_decay": ["0", "1e-4", "1e-3", "1e-2"],
    "width": ["16", "32", "64", "128"],
    "seed": ["0", "1", "2", "3"],
}
QUICK_GRID = {
    "lr": ["1e-3", "1e-2"],
    "weight_decay": ["0", "1e-3"],
    "width": ["16", "64"],
    "seed": ["0", "1"],
}
LAUNCHERS = {
    "basic": ([], 1),
    "joblib": (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 2),
    "vectorized": (["hydra/launcher=vectorized", "hydra.launcher.n_jobs=2"], 2),
}
BASELINE = """
import itertools, json, sys, time
from hydra import compose, initialize_config_dir
from harness.checks.schema import CONF_DIR, task_config
from harness.training.loop import train
grid, steps = json.loads(sys.argv[1]), int(sys.argv[2])
with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
    tasks = [
        task_config(compose("config", [f"{k}={v}" for k, v in zip(grid, values)] + [f"steps={steps}"]))
        for values in itertools.product(*grid.values())
    ]
started = time.perf_counter()  # the training only: composing the configs is not timed
for task in tasks:
    train(task)
print(time.perf_counter() - started)
"""


def environment() -> dict[str, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
    env.pop("MLFLOW_TRACKING_URI", None)
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, "1")
    return env


def baseline(grid: dict, steps: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", BASELINE, json.dumps(grid), str(steps)],
        env=environment(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"baseline failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.split()[-1])


def directory_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


MLFLOW_START = """
from mlflow import MlflowClient
import sys
MlflowClient(sys.argv[1]).search_experiments()
"""


def mlflow_start(db: Path, python: str) -> float:
    """Seconds for a fresh process to open the store with MlflowClient and run one query."""
    started = time.perf_counter()
    subprocess.run([python, "-c", MLFLOW_START, f"sqlite:///{db}"], env=environment(), check=True)
    return time.perf_counter() - started


def run_sweep(launcher: str, grid: dict, steps: int, python: str = sys.executable) -> dict:
    extra, workers = LAUNCHERS[launcher]
    jobs = len(list(itertools.product(*grid.values())))
    with tempfile.TemporaryDirectory(prefix=f"sweep-bench-{launcher}-") as tmp:
        overrides = [f"{key}={','.join(values)}" for key, values in grid.items()]
        command = [python, "-m", "harness.run", "-m", *overrides, f"steps={steps}", "report=false"]
        command += [f"hydra.sweep.dir={tmp}/multirun", *extra]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=tmp, env=environment(), capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{launcher} sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
        started = time.perf_counter()
        report = subprocess.run(
            [python, "-m", "harness.report", "--out", f"{tmp}/reports"],
            cwd=tmp,
            env=environment(),
            capture_output=True,
            text=True,
        )
        report_wall = time.perf_counter() - started
        if report.returncode != 0:
            sys.exit(f"report failed ({report.returncode}):\n{report.stderr[-3000:]}")
        train_seconds, finished = read_runs(Path(tmp) / "mlflow.db")
        db_bytes = (Path(tmp) / "mlflow.db").stat().st_size
        start = mlflow_start(Path(tmp) / "mlflow.db", python)
        artifact_bytes = directory_bytes(Path(tmp) / "mlruns")
    if finished != jobs:
        sys.exit(f"{launcher}: expected {jobs} FINISHED runs, found {finished}")
    return {
        "python": python,
        "launcher": launcher,
        "workers": workers,
        "jobs": jobs,
        "wall": wall,
        "train": train_seconds,
        "overhead": (wall - train_seconds) / jobs,
        "report": report_wall,
        "db_kib": db_bytes / jobs / 1024,
        "artifact_kib": artifact_bytes / jobs / 1024,
        "mlflow_start": start,
    }


def read_runs(db: Path) -> tuple[float, int]:
    """Total train_seconds and how many job runs FINISHED, read straight from MLflow."""
    from mlflow.tracking import MlflowClient

    from harness.tracking import DEFAULT_EXPERIMENT, Tags

    client = MlflowClient(f"sqlite:///{db}")
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'", max_results=50000
    )
    train = sum(run.data.metrics.get("train_seconds", 0.0) for run in runs)
    return train, sum(run.info.status == "FINISHED" for run in runs)


def median_of(runs: list[dict]) -> dict:
    keys = ("wall", "train", "overhead", "report", "db_kib", "artifact_kib", "mlflow_start", "floor")
    return {**runs[0], **{key: statistics.median(run[key] for run in runs) for key in keys}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 16-job grid of 500 steps (about a minute)")
    parser.add_argument("--steps", type=int, help="steps per job (default 3000; 500 with --quick)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--launchers", nargs="+", default=list(LAUNCHERS), choices=list(LAUNCHERS))
    parser.add_argument("--floor", action="store_true", help="also each sweep at 1 step a job (see above)")
    parser.add_argument("--python", nargs="+", default=[sys.executable], help="interpreters to compare")
    args = parser.parse_args()
    grid = QUICK_GRID if args.quick else FULL_GRID
    steps = args.steps or (500 if args.quick else 3000)
    jobs = len(list(itertools.product(*grid.values())))
    load = os.getloadavg()[0]
    print(
        f"{jobs}-job sweep ({' x '.join(f'{len(v)} {k}' for k, v in grid.items())}), {steps} steps a job,"
        f" {os.cpu_count()} cores, load average {load:.1f} at start; medians of {args.repeats}"
    )
    rows = []
    for _ in range(args.repeats):
        engine = baseline(grid, steps)
        print(f"engine alone: {engine:.2f} s", flush=True)
        for python, launcher in itertools.product(args.python, args.launchers):
            floor = run_sweep(launcher, grid, 1, python) if args.floor else None
            row = {**run_sweep(launcher, grid, steps, python), "engine": engine}
            row["floor"] = (floor["wall"] + floor["report"]) / engine if floor else float("nan")
            rows.append(row)
            print(f"{python} {launcher}: sweep {row['wall']:.2f} s, report {row['report']:.2f} s", flush=True)
    engine_loop = statistics.median(row["engine"] for row in rows)
    print(f"engine alone, one config after another (baseline): {engine_loop:.2f} s")
    print(
        f"{'python':<28} {'launcher':<10} {'workers':>7} {'sweep s':>8} {'train s':>8} {'overhead s/job':>15}"
        f" {'report s':>9} {'store KiB/run':>14} {'artifacts KiB/run':>18} {'(sweep+report)/engine':>22}"
        f" {'1-step/engine':>14} {'mlflow start s':>15}"
    )
    for python, launcher in itertools.product(args.python, args.launchers):
        mine = [row for row in rows if row["launcher"] == launcher and row["python"] == python]
        r = median_of(mine)
        ratio = statistics.median((row["wall"] + row["report"]) / row["engine"] for row in mine)
        print(
            f"{python[-28:]:<28} {launcher:<10} {r['workers']:>7} {r['wall']:>8.2f} {r['train']:>8.2f}"
            f" {r['overhead']:>15.3f}"
            f" {r['report']:>9.2f} {r['db_kib']:>14.1f} {r['artifact_kib']:>18.1f} {ratio:>21.2f}x"
            f" {r['floor']:>13.2f}x {r['mlflow_start']:>15.2f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end (2 cores: above 2 means other work shared them)")
    print("overhead = (sweep wall - total train_seconds) / jobs; store = mlflow.db bytes / jobs")
    print("targets: vectorized (sweep + report) <= 0.5x engine alone; report <= 5 s; store <= 150 KiB/run")


if __name__ == "__main__":
    main()
