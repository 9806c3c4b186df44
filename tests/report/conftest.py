"""Small real sweeps, made once per test session by the real runner in a subprocess, shared read-only.

One store holds three sweeps: a grid over two keys with two seeds, a sweep where every run diverges, and
a single run (made last, so it is the store's latest sweep).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from mlflow import MlflowClient

from harness.report import find_sweep
from harness.tracking import DEFAULT_EXPERIMENT


@dataclass(frozen=True)
class Store:
    STEPS: ClassVar[int] = 200
    GRID: ClassVar[dict] = {"lr": [1e-3, 1e-2], "width": [8, 16], "seed": [0, 1]}
    DIVERGING: ClassVar[dict] = {"optimizer": "sgd", "lr": [10.0, 100.0], "seed": [0, 1]}

    directory: Path
    uri: str
    grid: str  # sweep ids
    diverged: str
    single: str
    latest_before_single: str  # what `latest` resolved to before the single run was made

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    def env(self) -> dict[str, str]:
        return {**os.environ, "MLFLOW_TRACKING_URI": self.uri}


def overrides(spec: dict) -> list[str]:
    return [
        f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in spec.items()
    ]


def run_harness(directory: Path, uri: str, *arguments: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "harness.run", *arguments, f"steps={Store.STEPS}"],
        cwd=directory,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"harness.run {arguments} failed:\n{result.stdout}\n{result.stderr}"
    return result


def newest_sweep_id(uri: str) -> str:
    """The sweep id of the run started last: the invocation just made."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    (newest,) = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    return newest.data.tags["sweep_id"]


def make_sweep(directory: Path, uri: str, spec: dict) -> str:
    # no report (the tests make theirs) and no registered model (no report reads it): ~1.5 s a sweep
    sweep_dir = f"hydra.sweep.dir={directory / 'multirun'}"
    run_harness(directory, uri, "-m", *overrides(spec), "report=false", "register=false", sweep_dir)
    return newest_sweep_id(uri)


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Store:
    directory = tmp_path_factory.mktemp("store")
    shutil.copy(empty_store, directory / "mlflow.db")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    grid = make_sweep(directory, uri, Store.GRID)
    diverged = make_sweep(directory, uri, Store.DIVERGING)
    latest_before_single = find_sweep(tracking_uri=uri).sweep_id
    run_harness(directory, uri, f"hydra.run.dir={directory / 'outputs'}")
    return Store(directory, uri, grid, diverged, newest_sweep_id(uri), latest_before_single)


@pytest.fixture(scope="session")
def single_run_store(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> tuple[str, str]:
    """A store holding one single run and no sweep: its URI and the run's sweep id."""
    directory = tmp_path_factory.mktemp("single")
    shutil.copy(empty_store, directory / "mlflow.db")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    run_harness(directory, uri, f"hydra.run.dir={directory / 'outputs'}")
    return uri, newest_sweep_id(uri)


@dataclass(frozen=True)
class OptimizerSweeps:
    """Two sweeps that differ in the optimizer only: A `optimizer=adamw`, B `optimizer=seed_adamw`, each
    over two learning rates and three seeds. At 200 steps of the seed's experiment SeedAdamW (no bias
    correction) gets further than AdamW at lr=0.001 on every seed, and the two are alike at lr=0.01."""

    SPEC: ClassVar[dict] = {"lr": [1e-3, 1e-2], "seed": [0, 1, 2]}

    uri: str
    a: str  # sweep ids
    b: str


@pytest.fixture(scope="session")
def optimizer_sweeps(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> OptimizerSweeps:
    directory = tmp_path_factory.mktemp("optimizers")
    shutil.copy(empty_store, directory / "mlflow.db")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    a = make_sweep(directory, uri, {"optimizer": "adamw", **OptimizerSweeps.SPEC})
    b = make_sweep(directory, uri, {"optimizer": "seed_adamw", **OptimizerSweeps.SPEC})
    return OptimizerSweeps(uri, a, b)


@pytest.fixture(scope="session")
def two_searches(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> OptimizerSweeps:
    """Two small Optuna searches over lr, A with adamw and B with seed_adamw: no setting in common."""
    directory = tmp_path_factory.mktemp("searches")
    shutil.copy(empty_store, directory / "mlflow.db")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    ids = []
    for optimizer in ("adamw", "seed_adamw"):
        search = ["hydra/sweeper=optuna", "lr=tag(log,interval(1e-3,1e-2))", "hydra.sweeper.n_trials=2"]
        run_harness(directory, uri, "-m", *search, f"optimizer={optimizer}", "report=false", "register=false",
                    f"hydra.sweep.dir={directory / 'multirun'}")  # fmt: skip
        ids.append(newest_sweep_id(uri))
    return OptimizerSweeps(uri, *ids)
