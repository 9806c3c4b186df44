"""Helpers of the cluster tests: sweeps started in the background, and what they left in the store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from harness.curves import CURVE_FILE
from harness.tracking import Tags

EVERY = 10  # log_every_n_steps' default: the `loss` metric holds one window mean per 10 steps


def start_sweep(cwd: Path, env: dict[str, str], *arguments: str) -> subprocess.Popen:
    """`python -m harness.run -m *arguments` in the background in `cwd`, its output in `cwd/sweep.log`."""
    cwd.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "harness.run", "-m", *arguments, f"hydra.sweep.dir={cwd}/multirun"]
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg", **env}
    with open(cwd / "sweep.log", "w") as log:
        return subprocess.Popen(
            command, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def finish(sweep: subprocess.Popen, cwd: Path, seconds: float = 900) -> str:
    """Wait for the sweep to exit 0; its output."""
    returncode = sweep.wait(timeout=seconds)
    output = (cwd / "sweep.log").read_text()
    assert returncode == 0, output[-5000:]
    return output


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    raise AssertionError(f"no {what} after {seconds} s")


def sweep_id_of(cwd: Path) -> str | None:
    match = re.search(r"sweep (\d{8}-\d{6}-[0-9a-f]{4}): \d+ jobs", (cwd / "sweep.log").read_text())
    return match.group(1) if match else None


def sweep_runs(client: MlflowClient, sweep_id: str | None, role: str = Tags.ROLE_JOB) -> list:
    """The sweep's job runs (or its parent, with `role=Tags.ROLE_SWEEP`), in every experiment."""
    if sweep_id is None:
        return []
    experiments = [e.experiment_id for e in client.search_experiments()]
    condition = f"tags.{Tags.SWEEP_ID} = '{sweep_id}' and tags.{Tags.ROLE} = '{role}'"
    return client.search_runs(experiments, condition, max_results=1000)


def window_steps(steps: int) -> list[int]:
    """The steps the `loss` points of a run of `steps` steps stand at: each window's last step."""
    return list(range(EVERY - 1, steps, EVERY)) + ([steps - 1] if steps % EVERY else [])


def stored_curve(client: MlflowClient, run_id: str, into: Path) -> np.ndarray:
    """The run's per-step loss curve artifact."""
    with np.load(client.download_artifacts(run_id, CURVE_FILE, str(into))) as arrays:
        return arrays["loss"]


def count_kept_values(client: MlflowClient, run, steps: int, into: Path) -> int:
    """Assert that the run kept its whole curve, each point once (the `loss` metric's window means at
    their steps, the artifact's every step, the two agreeing); the number of `loss` points."""
    history = sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
    assert [m.step for m in history] == window_steps(steps), run.info.run_id
    curve = stored_curve(client, run.info.run_id, into / run.info.run_id)
    assert len(curve) == steps
    means = [curve[m.step // EVERY * EVERY : m.step + 1].mean() for m in history]
    assert np.allclose([m.value for m in history], means)
    return len(history)
