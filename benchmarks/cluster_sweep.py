"""The same sweep into sqlite and into the authenticated team server, with joblib and on the local SLURM
cluster: wall time, overhead per job, and HTTP requests per job against the server.

    python benchmarks/cluster_sweep.py [--jobs 32] [--steps 3000] [--stores sqlite server]
                                       [--launchers joblib slurm]

Starts (through harness.services and tests/support, in a temporary directory, stopped at the end) one
team server (PostgreSQL + MLflow with basic auth) and one one-node SLURM cluster, then runs
`python -m harness.run -m seed=range(N) report=false` once per store and launcher.
Overhead per job = (wall - total train_seconds the runs recorded) / jobs.
Requests per job = the server's access-log lines during the sweep / jobs (the sweep's own included).
Needs root and the Debian packages of .ci/run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from harness.services.process import free_port, traversable
from harness.services.team_server import ADMIN, TeamServer, environment_for
from harness.tracking import DEFAULT_EXPERIMENT, Tags

# The one-node SLURM cluster is test machinery, not part of the installed package: it is imported from
# the checkout's tests/support, with the checkout's root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.slurm import SlurmCluster  # noqa: E402

LAUNCHERS = {
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "slurm": ["hydra/launcher=local_slurm"],
}


def requests_logged(log: Path) -> int:
    return sum(' HTTP/1.1" ' in line for line in log.read_text(errors="replace").splitlines())


def run_sweep(cwd: Path, launcher: str, jobs: int, steps: int, env: dict) -> tuple[float, str]:
    sweep = [f"seed=range({jobs})", f"steps={steps}", "report=false", f"hydra.sweep.dir={cwd}/multirun"]
    command = [sys.executable, "-m", "harness.run", "-m", *sweep, *LAUNCHERS[launcher]]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{launcher} sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
    lines = (done.stdout + done.stderr).splitlines()  # Hydra logs to stdout
    sweep_id = next(line.split("sweep ", 1)[1].split(":")[0] for line in lines if " jobs over " in line)
    return wall, sweep_id


def training_seconds(uri: str, sweep_id: str, jobs: int) -> float:
    experiment = MlflowClient(uri).get_experiment_by_name(DEFAULT_EXPERIMENT)
    runs = MlflowClient(uri).search_runs(
        [experiment.experiment_id],
        f"tags.{Tags.SWEEP_ID} = '{sweep_id}' and tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'",
    )
    finished = [run for run in runs if run.info.status == "FINISHED"]
    if len(finished) != jobs:
        sys.exit(f"sweep {sweep_id}: expected {jobs} FINISHED runs, found {len(finished)}")
    return sum(run.data.metrics["train_seconds"] for run in finished)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "server"], choices=["sqlite", "server"])
    parser.add_argument("--launchers", nargs="+", default=list(LAUNCHERS), choices=list(LAUNCHERS))
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    traversable(base)
    server, cluster = TeamServer(base / "server"), SlurmCluster(base / "slurm")
    try:
        started_at = time.perf_counter()
        started = server.start(port=free_port()) if "server" in args.stores else None
        server_seconds = time.perf_counter() - started_at
        started_at = time.perf_counter()
        if "slurm" in args.launchers:
            cluster.start()
        cluster_seconds = time.perf_counter() - started_at
        print(f"{args.jobs}-job sweep, {args.steps} steps a job, {os.cpu_count()} cores; team server up"
              f" in {server_seconds:.1f} s, SLURM cluster in {cluster_seconds:.1f} s")  # fmt: skip
        print(
            f"{'store':<7} {'launcher':<8} {'wall s':>7} {'train s':>8}"
            f" {'overhead s/job':>15} {'requests/job':>13}"
        )
        for store in args.stores:
            for launcher in args.launchers:
                cwd = base / f"{store}-{launcher}"
                cwd.mkdir()
                env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg", **cluster.env}
                if store == "server":
                    env |= environment_for(server.url, ADMIN, started.admin_password)
                    uri = server.url
                else:
                    env.pop("MLFLOW_TRACKING_URI", None)
                    uri = f"sqlite:///{cwd}/mlflow.db"
                log = base / "server" / "mlflow-server.log"
                before = requests_logged(log) if store == "server" else 0
                wall, sweep_id = run_sweep(cwd, launcher, args.jobs, args.steps, env)
                requests = (requests_logged(log) - before) / args.jobs if store == "server" else float("nan")
                if store == "server":
                    os.environ |= environment_for(server.url, ADMIN, started.admin_password)
                train = training_seconds(uri, sweep_id, args.jobs)
                overhead = (wall - train) / args.jobs
                print(f"{store:<7} {launcher:<8} {wall:>7.1f} {train:>8.1f} {overhead:>15.3f}"
                      f" {requests:>13.1f}")  # fmt: skip
        print("overhead = (wall - total train_seconds) / jobs; requests/job = server access-log lines / jobs")
    finally:
        cluster.stop()
        server.stop()


if __name__ == "__main__":
    main()
