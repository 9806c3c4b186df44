"""The store before and during a sweep, for real: a tracking server that is not there, one that goes
away mid-sweep and comes back, a parent run that cannot be made, a deleted experiment."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from harness.services.process import free_port
from harness.sweep.callbacks import MlflowSweepCallback
from tests.harness.conftest import harness_command, harness_env, sqlite_server

pytestmark = pytest.mark.slow

SECRET = "hunter2-token"


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_a_server_that_is_not_there_is_one_line_with_no_job_started(run_harness, tmp_path):
    uri = f"http://harness:{SECRET}@127.0.0.1:{free_port()}"
    refused = run_harness(tmp_path, "-m", "seed=0,1", "steps=20", "store_timeout=2", uri=uri, expect_ok=False)
    assert refused.result.returncode == 2
    (line,) = _error_lines(refused.output)
    assert line.startswith("error: cannot reach the tracking server http://***@127.0.0.1:")
    assert "store_timeout" in line and SECRET not in refused.output
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "outputs").exists()


def test_a_deleted_experiment_is_one_line_saying_how_to_restore_it(run_harness, store_dir):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("gone")
    client.delete_experiment(experiment_id)
    refused = run_harness(store_dir, "steps=20", "experiment=gone", uri=uri, expect_ok=False)
    assert refused.result.returncode == 2
    (line,) = _error_lines(refused.output)
    assert line == (
        f"error: experiment 'gone' is deleted in the store {store_dir}/mlflow.db: restore it with "
        f"`mlflow experiments restore --experiment-id {experiment_id}` or choose another experiment=NAME"
    )
    assert client.search_runs([experiment_id], run_view_type=3) == []


def test_a_parent_run_that_cannot_be_made_stops_the_sweep_before_any_job(tmp_path, monkeypatch, capsys):
    # Hydra would turn an exception here into a warning and launch the jobs, orphaned.
    (tmp_path / "mlflow.db").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    config = OmegaConf.create(
        {
            "experiment": "e",
            "report": False,
            "hydra": {"overrides": {"task": ["seed=0,1"]}, "sweep": {"dir": "x"}},
        }
    )
    with pytest.raises(SystemExit) as stopped:
        MlflowSweepCallback().on_multirun_start(config)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: no job started: the store {tmp_path}/mlflow.db is damaged (not an MLflow database): "
        "move it aside to start a new one, or set MLFLOW_TRACKING_URI to another store"
    )


def test_a_server_that_goes_away_mid_sweep_and_comes_back_loses_no_data(tmp_path, stored):
    server = sqlite_server(tmp_path)
    server.start(seconds=240)
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    steps = 1500
    process = subprocess.Popen(
        harness_command(client_dir, "-m", "seed=0,1", f"steps={steps}", "report=false"),
        cwd=client_dir,
        env=harness_env(server.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    store = stored(server.url)
    try:
        deadline = time.monotonic() + 120
        while not any(store.loss_history(run) for run in store.children()):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.3)
        server.stop(signum=signal.SIGKILL)  # gone, with no goodbye
        time.sleep(4)
        server.start(seconds=240)
        output = process.communicate(timeout=300)[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    try:
        assert process.returncode == 0, output[-3000:]
        (parent,) = store.parents()
        children = store.children(parent)
        assert parent.info.status == "FINISHED" and len(children) == 2
        for run in children:
            assert run.info.status == "FINISHED"
            assert [m.step for m in store.loss_history(run)] == list(range(9, steps, 10))  # window means
            assert len(store.curve(run, tmp_path)) == steps  # and every step in curve.npz
            assert "eval_mse" in run.data.metrics
        assert "store not answering" in output or "trying again" in output
    finally:
        server.stop()


def _mount_tmpfs(path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs a tmpfs mount: run as root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a tmpfs of its own, unmounted after the test."""
    folder = tmp_path / "disk"
    folder.mkdir()
    _mount_tmpfs(folder, "4m")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder) -> None:
    with open(folder / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    for size in (4096, 512, 1):  # the last crumbs
        try:
            with open(folder / f"crumbs-{size}", "wb") as crumbs:
                while True:
                    crumbs.write(b"\0" * size)
                    crumbs.flush()
        except OSError:
            continue


@pytest.mark.parametrize("fault", ["damaged", "read-only", "full"])
def test_store_faults_are_one_line_each_saying_what_to_do(run_harness, empty_store, tmp_path, fault, request):
    if fault == "damaged":
        folder = tmp_path
        (folder / "mlflow.db").write_bytes(b"not a database " * 1000)
    else:
        folder = request.getfixturevalue("small_disk")
        (folder / "mlflow.db").write_bytes(empty_store.read_bytes())
        if fault == "read-only":
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            _fill(folder)
    before = sorted(path.name for path in folder.iterdir())
    database = folder / "mlflow.db"
    refused = run_harness(
        tmp_path, "-m", "seed=0,1", "steps=20", uri=f"sqlite:///{database}", expect_ok=False
    )
    assert refused.result.returncode == 2
    # MLflow may log that it opens the tables (INFO): the refusal is the one other line
    lines = [line for line in _error_lines(refused.output) if " INFO mlflow." not in line]
    assert len(lines) == 1, refused.output
    (line,) = lines
    other = "or set MLFLOW_TRACKING_URI to another store"
    assert (
        line
        == {
            "damaged": f"error: the store {database} is damaged (not an MLflow database): "
            f"move it aside to start a new one, {other}",
            "read-only": f"error: the store {database} is read-only: "
            f"make it and its folder writable, {other}",
            "full": f"error: the disk holding the store {database} is full: free some space, {other}",
        }[fault]
    )
    assert not (tmp_path / "multirun").exists()
    if fault != "full":  # nothing written but the empty lock file beside a sqlite store
        assert sorted(path.name for path in folder.iterdir() if path.name != "mlflow.db.lock") == before


def test_an_artifact_folder_that_cannot_be_written_is_one_line_naming_it_before_any_job(
    small_disk, empty_store, tmp_path
):
    """The store is writable elsewhere; the working directory, where a new experiment's `./mlruns`
    would go, is read-only."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "mlflow.db").write_bytes(empty_store.read_bytes())
    uri = f"sqlite:///{store / 'mlflow.db'}"
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    refused = subprocess.run(
        harness_command(tmp_path, "-m", "seed=0,1", "steps=20"),
        cwd=small_disk, env=harness_env(uri), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = [line for line in _error_lines(refused.stdout + refused.stderr) if " INFO mlflow." not in line]
    assert lines == [
        f"error: the artifact folder {small_disk / 'mlruns'} of experiment 'autograd-mlp' cannot be written "
        "(Read-only file system): make it writable, or start from a folder where ./mlruns can be written"
    ]
    client = MlflowClient(tracking_uri=uri)
    assert client.get_experiment_by_name("autograd-mlp") is None  # nothing half-written
    assert not (tmp_path / "multirun").exists()
