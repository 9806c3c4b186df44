"""harness.tracking.gateway against a real sqlite store: batching, streaming, statuses, scrubbing, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from harness.tracking import FAILED, FINISHED, LossStream, Tags, Tracker
from harness.tracking import gateway as tracking


@pytest.fixture
def tracker(store_dir) -> Tracker:
    return Tracker(f"sqlite:///{store_dir}/mlflow.db")


def test_experiment_is_created_once_and_found_again(tracker):
    first = tracker.experiment_id("exp")
    assert tracker.experiment_id("exp") == first


def test_an_experiment_another_process_created_meanwhile_is_found(tracker, monkeypatch):
    created = tracker.client.create_experiment("exp")  # by "another process", after our lookup
    misses = [None]  # the first lookup, made just before the other process created it, finds nothing
    get = tracker.client.get_experiment_by_name
    monkeypatch.setattr(
        tracker.client, "get_experiment_by_name", lambda name: misses.pop() if misses else get(name)
    )
    assert tracker.experiment_id("exp") == created


@pytest.mark.parametrize(
    ("uri", "database"),
    [
        ("sqlite:////tmp/x/mlflow.db", Path("/tmp/x/mlflow.db")),
        ("sqlite:///mlflow.db?timeout=30", Path("mlflow.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("http://127.0.0.1:5000", None),
        ("postgresql://user@host/db", None),
    ],
)
def test_only_a_sqlite_file_uri_names_a_database_file(uri, database):
    assert tracking.sqlite_path(uri) == database


def test_a_fresh_sqlite_store_is_created_only_under_its_file_lock(tmp_path):
    """While another process holds `mlflow.db.lock`, opening the store waits and creates nothing."""
    database = tmp_path / "mlflow.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "mlflow.db.lock")], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    opened = threading.Thread(target=tracking.Tracker, args=(f"sqlite:///{database}",))
    opened.start()
    opened.join(timeout=2.0)
    assert opened.is_alive() and not database.exists()  # waiting on the lock, nothing created
    holder.stdin = None
    holder.terminate()  # the lock goes with its process
    holder.wait(timeout=10)
    opened.join(timeout=60)
    assert not opened.is_alive() and database.exists()


HOLD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "a") as file:
    fcntl.flock(file, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(600)
"""


def test_a_long_curve_arrives_whole_in_batches(tracker, monkeypatch):
    sizes = []
    log_batch = tracker.client.log_batch
    monkeypatch.setattr(
        tracker.client,
        "log_batch",
        lambda run_id, **kw: (sizes.append(len(kw.get("metrics", ()))), log_batch(run_id, **kw)),
    )
    run_id = tracker.start_run(tracker.experiment_id("exp"), "r", {})
    stream = LossStream(tracker, run_id)
    losses = np.linspace(1.0, 0.1, 2500)
    stream.update(losses)
    stream.flush()
    history = tracker.client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(2500))
    assert [m.value for m in history] == pytest.approx(losses.tolist())
    assert sizes == [1000, 1000, 500]


def test_a_curve_logged_every_k_steps_is_the_mean_of_each_window(tracker):
    run_id = tracker.start_run(tracker.experiment_id("exp"), "r", {})
    stream = LossStream(tracker, run_id, every=10, params={"lr": 0.1})
    losses = np.arange(25.0)
    stream.update(losses[:20])
    stream.flush()  # whole windows only: steps 0-9 and 10-19
    assert [(m.step, m.value) for m in tracker.client.get_metric_history(run_id, "loss")] == [
        (9, 4.5),
        (19, 14.5),
    ]
    assert tracker.client.get_run(run_id).data.params == {"lr": "0.1"}  # sent with the first batch
    stream.update(losses)
    stream.finish({"final_loss": 1.5}, {Tags.FAILURE_STEP: 25})  # and the last, shorter window
    history = tracker.client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(9, 4.5), (19, 14.5), (24, 22.0)]
    run = tracker.client.get_run(run_id)
    assert run.data.metrics["final_loss"] == 1.5 and run.data.tags[Tags.FAILURE_STEP] == "25"
    assert stream.sent == 25


def test_a_finished_runs_records_go_out_in_one_batch(tracker, monkeypatch):
    calls = []
    log_batch = tracker.client.log_batch
    monkeypatch.setattr(
        tracker.client, "log_batch", lambda run_id, **kw: (calls.append(kw), log_batch(run_id, **kw))
    )
    run_id = tracker.start_run(tracker.experiment_id("exp"), "r", {})
    stream = LossStream(tracker, run_id, every=10, params={f"p{i}": i for i in range(20)})
    stream.update(np.linspace(1.0, 0.1, 3000))
    stream.finish({"final_loss": 0.1, "eval_mse": 0.2}, {"note": "x"})
    assert len(calls) == 1
    assert (len(calls[0]["params"]), len(calls[0]["metrics"]), len(calls[0]["tags"])) == (20, 302, 1)


def test_a_running_curve_is_sent_as_it_grows(tracker, monkeypatch):
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 0.0)
    run_id = tracker.start_run(tracker.experiment_id("exp"), "r", {})
    stream = LossStream(tracker, run_id)
    losses = np.arange(300.0)
    stream.update(losses[:100])
    assert len(tracker.client.get_metric_history(run_id, "loss")) == 100
    stream.update(losses[:300])
    assert [m.step for m in tracker.client.get_metric_history(run_id, "loss")] == list(range(300))


@pytest.mark.parametrize("lost_on", ["flush", "finish"])
def test_a_batch_stored_but_whose_answer_was_lost_is_not_stored_twice_when_sent_again(
    tracker, monkeypatch, lost_on
):
    """A server killed between committing a batch and answering it: the job sends the batch again
    (its patience retries the ending), and the curve and metrics must still be there once."""
    log_batch, lost = tracker.client.log_batch, []

    def committed_then_cut(run_id, **batch):
        log_batch(run_id, **batch)
        if not lost:
            lost.append(batch)
            raise ConnectionError("server went away before answering")

    run_id = tracker.start_run(tracker.experiment_id("exp"), "r", {})
    stream = LossStream(tracker, run_id, every=10, params={"lr": 0.1})
    losses = np.linspace(1.0, 0.1, 95)
    monkeypatch.setattr(tracker.client, "log_batch", committed_then_cut)
    if lost_on == "flush":
        stream.update(losses[:50])
        with pytest.raises(ConnectionError):
            stream.flush()
    stream.update(losses)
    if lost_on == "finish":
        with pytest.raises(ConnectionError):
            stream.finish({"final_loss": 0.1})
    time.sleep(0.01)  # a retry comes later: with a fresh timestamp every row would be new
    stream.finish({"final_loss": 0.1})
    assert lost, "the fault was injected"
    assert [m.step for m in tracker.client.get_metric_history(run_id, "loss")] == [*range(9, 95, 10), 94]
    assert len(tracker.client.get_metric_history(run_id, "final_loss")) == 1


def test_ending_a_run_sets_its_status_and_tags(tracker):
    run_id = tracker.start_run(tracker.experiment_id("exp"), "r", {})
    tracker.end(run_id, FAILED, {Tags.FAILURE_STEP: 4, Tags.FAILURE_REASON: "loss is nan"})
    run = tracker.client.get_run(run_id)
    assert run.info.status == FAILED
    assert run.data.tags[Tags.FAILURE_STEP] == "4" and run.data.tags[Tags.FAILURE_REASON] == "loss is nan"


def test_params_and_tags_are_scrubbed_on_the_way_out(tracker):
    run_id = tracker.start_run(
        tracker.experiment_id("exp"),
        "r",
        {"note": "from http://bob:pw@host"},
        {"lr": 0.1, "db.password": "pw", "url": "https://x?token=pw"},
    )
    run = tracker.client.get_run(run_id)
    assert "pw" not in str(run.data.params) + str(run.data.tags)
    assert run.data.params["lr"] == "0.1"


def test_finished_job_runs_are_found_by_config_hash_and_code_version(tracker):
    experiment = tracker.experiment_id("exp")
    job = {Tags.ROLE: Tags.ROLE_JOB}
    finished = tracker.start_run(experiment, "a", job | {Tags.CONFIG_HASH: "abc", Tags.CODE_VERSION: "c1"})
    tracker.end(finished, FINISHED)
    failed = tracker.start_run(experiment, "b", job | {Tags.CONFIG_HASH: "def", Tags.CODE_VERSION: "c1"})
    tracker.end(failed, FAILED)
    assert tracker.find_finished(experiment, "abc", "c1") == finished
    # the same config from an edited tree (commit+diff hash) would compute differently: not the same run
    assert tracker.find_finished(experiment, "abc", "c1+0123456789abcdef") is None
    assert tracker.find_finished(experiment, "def", "c1") is None
    assert tracker.find_finished(experiment, "zzz", "c1") is None


def test_ctrl_c_during_a_batch_waits_until_the_batch_is_stored():
    reached_end_of_block = False
    with pytest.raises(KeyboardInterrupt):
        with tracking.interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal arrives in here, and is held
            reached_end_of_block = True
    assert reached_end_of_block


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR2])
def test_a_stop_signal_during_a_batch_waits_until_the_batch_is_stored(signum):
    class Stop(BaseException):
        pass

    def stop(signum, frame):
        raise Stop()

    previous = signal.signal(signum, stop)  # as harness.job.signals sets them in a job
    try:
        reached_end_of_block = False
        with pytest.raises(Stop):
            with tracking.interrupts_held():
                os.kill(os.getpid(), signum)
                time.sleep(0.05)  # the signal arrives in here, and is held
                reached_end_of_block = True
        assert reached_end_of_block
        assert signal.getsignal(signum) is stop  # the job's handler is back
    finally:
        signal.signal(signum, previous)


def test_the_mlflow_ui_hint_is_one_shell_word_for_a_store_path_with_spaces(tmp_path):
    import shlex

    from harness.tracking.store import where_to_look

    uri = f"sqlite:///{tmp_path / 'my runs' / 'mlflow.db'}"
    hint = where_to_look(uri, cwd=tmp_path)
    command = hint.split("`")[1]
    assert shlex.split(command) == ["mlflow", "ui", "--workers", "1", "--backend-store-uri", uri]
