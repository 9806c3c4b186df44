"""Beyond the basic launcher and a local file: joblib and submitit processes, a named sweep, and a
real `mlflow server` reached over HTTP."""

from __future__ import annotations

import pytest

from harness.tracking import Tags
from tests.harness.conftest import sqlite_server

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-t0ken"


def _assert_nested_sweep(store, jobs: int, steps: int):
    (parent,) = store.parents()
    children = store.children(parent)
    assert len(children) == jobs == len(store.children())
    assert {run.info.status for run in children} == {"FINISHED"}
    assert parent.info.status == "FINISHED"
    for run in children:
        assert [m.step for m in store.loss_history(run)] == store.logged_steps(steps)
        assert run.data.tags[Tags.SWEEP_ID] == parent.data.tags[Tags.SWEEP_ID]
    return parent, children


@pytest.mark.parametrize(
    "launcher",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
    ],
    ids=["joblib", "submitit_local"],
)
def test_jobs_in_other_processes_nest_under_one_parent_in_a_fresh_store(run_harness, tmp_path, launcher):
    sweep = run_harness(tmp_path, "-m", "seed=0,1,2", "steps=40", "report=false", *launcher)
    _, children = _assert_nested_sweep(sweep.store, jobs=3, steps=40)
    assert {run.info.run_name for run in children} == {"seed=0", "seed=1", "seed=2"}


def test_a_named_sweep_runs_by_name_and_the_command_line_narrows_it(run_harness, store_dir):
    sweep = run_harness(store_dir, "-m", "sweeps=optimizers", "seed=0", "steps=30", "report=false")
    parent, children = _assert_nested_sweep(sweep.store, jobs=4, steps=30)
    assert {run.info.run_name for run in children} == {
        "optimizer=seed_adamw",
        "optimizer=adamw",
        "optimizer=adam",
        "optimizer=sgd",
    }
    assert {run.data.params["init"] for run in children} == {"kaiming"}
    assert parent.data.tags[Tags.OVERRIDES] == "sweeps=optimizers seed=0 steps=30 report=false"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 at a free port, sqlite behind it, stopped after the tests."""
    server = sqlite_server(tmp_path_factory.mktemp("server"))
    try:
        server.start(seconds=240)
        yield server.port
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server_sweep(mlflow_server, run_harness, tmp_path_factory):
    """A sweep through the server, with credentials in the tracking URI (the server ignores them)."""
    uri = f"http://harness:{SECRET}@127.0.0.1:{mlflow_server}"
    return run_harness(
        tmp_path_factory.mktemp("client"), "-m", "seed=0,1", "steps=40", "report=false", uri=uri
    )


def test_a_sweep_through_a_tracking_server_stores_everything(server_sweep, tmp_path):
    _, children = _assert_nested_sweep(server_sweep.store, jobs=2, steps=40)
    run = children[0]
    assert server_sweep.store.artifacts(run) == {
        "fit.png",
        "loss.png",
        "graph.dot",
        "config.yaml",
        "model.npz",
        "fit.npz",
        "curve.npz",
    }
    assert "eval_mse" in run.data.metrics
    assert not (server_sweep.cwd / "mlflow.db").exists()


def test_no_credential_is_written_into_any_run(server_sweep, tmp_path):
    store = server_sweep.store
    for run in store.runs():
        assert SECRET not in str(run.data.params) + str(run.data.tags)
        if run.data.tags[Tags.ROLE] == "job":
            assert SECRET not in store.download(run, "config.yaml", tmp_path).read_text()
    assert SECRET not in server_sweep.output
