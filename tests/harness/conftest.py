"""Helpers for the runner's tests: the real config composed in-process, the real runner in a
subprocess against a sqlite store in a temporary directory, and readers of what the store holds."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient

from harness.checks.schema import CONF_DIR
from harness.services.mlflow_server import MlflowServer
from harness.services.process import free_port
from harness.tracking import DEFAULT_EXPERIMENT, Tags

STEPS = 60  # steps per job in the end-to-end runs: enough for a curve, quick
LOG_EVERY = 10  # the default log_every_n_steps


@pytest.fixture
def compose_config():
    """`compose_config("lr=0.1", ...)`: the real conf/ composed with these overrides, Hydra's own node
    included (`cfg.hydra.runtime.choices` names each group's option, as in a job)."""

    def _compose(*overrides: str):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)

    return _compose


@dataclass
class Stored:
    """What one store holds, read through MLflow's own client."""

    uri: str
    experiment: str = DEFAULT_EXPERIMENT

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    def runs(self, role: str | None = None, sweep_id: str | None = None):
        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is None:
            return []
        filters = [f"tags.{Tags.ROLE} = '{role}'"] if role else []
        filters += [f"tags.{Tags.SWEEP_ID} = '{sweep_id}'"] if sweep_id else []
        return self.client.search_runs([experiment.experiment_id], " and ".join(filters), max_results=1000)

    def parents(self):
        return self.runs(Tags.ROLE_SWEEP)

    def children(self, parent=None):
        jobs = self.runs(Tags.ROLE_JOB)
        if parent is None:
            return jobs
        return [run for run in jobs if run.data.tags.get(Tags.PARENT_RUN_ID) == parent.info.run_id]

    def by_name(self):
        return {run.info.run_name: run for run in self.children()}

    def loss_history(self, run):
        return self.client.get_metric_history(run.info.run_id, "loss")

    @staticmethod
    def logged_steps(steps: int, every: int = LOG_EVERY) -> list[int]:
        """The steps at which a run of `steps` steps logs `loss`: the last step of each window."""
        return list(range(every - 1, steps, every)) + ([steps - 1] if steps % every else [])

    def curve(self, run, into: Path):
        """The run's loss at every step, from its `curve.npz` artifact."""
        return np.load(self.download(run, "curve.npz", into))["loss"]

    def artifacts(self, run) -> set[str]:
        return {info.path for info in self.client.list_artifacts(run.info.run_id)}

    def download(self, run, path: str, into: Path) -> Path:
        return Path(self.client.download_artifacts(run.info.run_id, path, str(into)))


@dataclass
class Invocation:
    result: subprocess.CompletedProcess
    store: Stored
    cwd: Path

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


def harness_env(uri: str | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg", "HYDRA_FULL_ERROR": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_RUN_ID", None)
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    return {**env, **extra}


def harness_command(cwd: Path, *arguments: str) -> list[str]:
    hydra_dirs = [f"hydra.sweep.dir={cwd}/multirun", f"hydra.run.dir={cwd}/outputs"]
    return [sys.executable, "-m", "harness.run", *arguments, *hydra_dirs]


def _run_harness(
    cwd: Path, *arguments: str, uri: str | None = "sqlite", expect_ok: bool = True, timeout: float = 300
) -> Invocation:
    """`python -m harness.run *arguments` in `cwd`; `uri="sqlite"` means `sqlite:///{cwd}/mlflow.db`,
    None leaves MLFLOW_TRACKING_URI unset (the runner's default store)."""
    if uri == "sqlite":
        uri = f"sqlite:///{cwd}/mlflow.db"
    result = subprocess.run(
        harness_command(cwd, *arguments),
        cwd=cwd,
        env=harness_env(uri),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    invocation = Invocation(result, Stored(uri or f"sqlite:///{cwd}/mlflow.db"), cwd)
    if expect_ok:
        assert result.returncode == 0, invocation.output[-5000:]
    return invocation


def _start_harness(cwd: Path, *arguments: str, uri: str) -> subprocess.Popen:
    """In a process group of its own, as a terminal's foreground job: Ctrl-C is `os.killpg(pid, SIGINT)`."""
    return subprocess.Popen(
        harness_command(cwd, *arguments),
        cwd=cwd,
        env=harness_env(uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.fixture(scope="session")
def run_harness():
    return _run_harness


@pytest.fixture(scope="session")
def start_harness():
    """Start `python -m harness.run` without waiting (stdout and stderr in one pipe)."""
    return _start_harness


@pytest.fixture(scope="session")
def stored():
    """`stored(uri)`: a reader of what the store at `uri` holds."""
    return Stored


def sqlite_server(directory: Path) -> MlflowServer:
    """A real `mlflow server` on 127.0.0.1 at a free port, sqlite behind it, that a test may stop and
    start again (same port, same database). Not started yet."""
    return MlflowServer(directory, port=free_port(), backend_store_uri=f"sqlite:///{directory}/server.db")
