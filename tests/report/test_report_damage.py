"""The report on a store that lost something: a truncated or empty artifact, a deleted job run, a removed
artifact folder. It names what it could not read, in one line each, and reports the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from harness.analysis.data import find_sweep, load_runs
from tests.report.conftest import make_sweep

pytestmark = pytest.mark.slow

SWEEP = {"lr": [1e-3, 1e-2], "seed": [0, 1]}


@pytest.fixture(scope="module")
def damaged_store(tmp_path_factory) -> tuple[Path, str, str, str]:
    """A store of its own (the tests damage it) with two sweeps of 4 jobs: (folder, uri, sweep, sweep)."""
    directory = tmp_path_factory.mktemp("damaged")
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    return directory, uri, make_sweep(directory, uri, SWEEP), make_sweep(directory, uri, SWEEP)


def report(uri: str, sweep: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.report", "--sweep", sweep, "--out", str(out)],
        cwd=out.parent,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=300,
    )


def artifact_file(uri: str, run_id: str, name: str) -> Path:
    root = MlflowClient(tracking_uri=uri).get_run(run_id).info.artifact_uri
    return Path(root.removeprefix("file://")) / name


def best_run(uri: str, sweep: str) -> str:
    runs = load_runs(sweep=sweep, tracking_uri=uri)
    return runs.sort_values("eval_mse")["run_id"].iloc[0]


def test_a_truncated_curve_and_an_empty_fit_are_named_and_the_rest_is_reported(damaged_store, tmp_path):
    _, uri, sweep, _ = damaged_store
    runs = load_runs(sweep=sweep, tracking_uri=uri)
    best = best_run(uri, sweep)
    truncated = next(run_id for run_id in runs["run_id"] if run_id != best)
    curve = artifact_file(uri, truncated, "curve.npz")
    with curve.open("r+b") as file:
        file.truncate(100)
    artifact_file(uri, best, "fit.npz").write_bytes(b"")

    result = report(uri, sweep, tmp_path / "reports")

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "not reported" in line]
    assert len(lines) == 2, result.stderr
    assert any(truncated in line and "curve.npz" in line for line in lines)
    assert any(best in line and "fit.npz" in line for line in lines)
    assert "Traceback" not in result.stderr
    written = pd.read_csv(tmp_path / "reports" / sweep / "runs.csv")
    assert set(written["run_id"]) == set(runs["run_id"])  # the damaged runs are reported too
    page = (tmp_path / "reports" / sweep / "report.md").read_text()
    assert truncated in page and best in page
    assert (tmp_path / "reports" / sweep / "loss_curves.png").exists()


def test_the_report_counts_recorded_jobs_and_keeps_no_figure_of_an_earlier_report(damaged_store, tmp_path):
    _, uri, _, sweep = damaged_store
    client = MlflowClient(tracking_uri=uri)
    out = tmp_path / "reports"
    first = report(uri, sweep, out)
    assert first.returncode == 0, first.stderr
    assert (out / sweep / "fit.png").exists()

    runs = load_runs(sweep=sweep, tracking_uri=uri)
    best = best_run(uri, sweep)
    deleted = next(run_id for run_id in runs["run_id"] if run_id != best)
    client.delete_run(deleted)
    for run_id in runs["run_id"]:  # the fit section has nothing to draw now
        artifact_file(uri, run_id, "fit.npz").unlink()

    second = report(uri, sweep, out)

    assert second.returncode == 0, second.stderr
    page = (out / sweep / "report.md").read_text()
    assert "4 recorded by the sweep, 3 found, 1 missing" in page
    assert deleted in page and f"mlflow runs restore --run-id {deleted}" in page
    assert deleted in second.stderr and second.stderr.count("\n") == 1
    written = {path.name for path in (out / sweep).iterdir()}
    assert "fit.png" not in written
    parent = find_sweep(sweep=sweep, tracking_uri=uri).root_run_id
    logged = {Path(artifact.path).name for artifact in client.list_artifacts(parent, "report")}
    assert logged == written
