"""A password rotated in the middle of a sweep, against the real team server: the sweep stops at once
with one line, nothing trained is lost, and the next command ends the runs KILLED with that reason."""

from __future__ import annotations

import time

import numpy as np
from mlflow.tracking import MlflowClient

from harness.tracking import Tags
from tests.cluster.needs import TEAM_SERVER
from tests.cluster.sweeps import finish, start_sweep, stored_curve, sweep_id_of, sweep_runs, wait_for

pytestmark = [TEAM_SERVER]

STEPS = 20000  # a job trains a few seconds: the third is mid-curve when the password changes
USER = "rotated"


def admin_client(team_server, monkeypatch) -> MlflowClient:
    for key, value in team_server.env().items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=team_server.url)


def test_a_password_rotated_mid_sweep_stops_it_at_once_and_loses_nothing(team_server, monkeypatch, tmp_path):
    added = team_server.command("add-user", USER, MLFLOW_TRACKING_PASSWORD=team_server.admin_password)
    assert added.returncode == 0, added.stderr
    password = team_server.password_in(added)
    env = team_server.env(USER, password) | {"XDG_STATE_HOME": str(tmp_path / "state")}
    arguments = ["seed=0,1,2,3,4,5", f"steps={STEPS}", "experiment=refused", "report=false", "register=false"]
    first = tmp_path / "first"
    sweep = start_sweep(first, env, *arguments)
    client = admin_client(team_server, monkeypatch)
    sweep_id = wait_for(lambda: sweep_id_of(first), 120, "sweep id")

    def two_finished_and_one_running():
        statuses = [run.info.status for run in sweep_runs(client, sweep_id)]
        return statuses.count("FINISHED") >= 2 and "RUNNING" in statuses

    wait_for(two_finished_and_one_running, 600, "two finished jobs and a third running")
    rotated = team_server.command("rotate-password", "--user", USER, MLFLOW_TRACKING_PASSWORD=password)
    assert rotated.returncode == 0, rotated.stderr
    new_password = team_server.password_in(rotated)
    rotated_at = time.monotonic()

    returncode = sweep.wait(timeout=300)
    stopped_after = time.monotonic() - rotated_at
    output = (first / "sweep.log").read_text()
    assert returncode == 1, output[-3000:]
    assert stopped_after < 60, stopped_after  # no store_patience (120 s) per job
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: not authenticated: the server {team_server.url} refused {USER}'s credentials (401): "
        "the password changed? set MLFLOW_TRACKING_PASSWORD and rerun with resume=true"
    ], output[-3000:]
    assert "Traceback" not in output
    runs = sweep_runs(client, sweep_id)
    assert len(runs) <= 4  # the sweep stopped: no later job started
    (cut,) = [run for run in runs if run.info.status == "RUNNING"]  # the server refuses its ending
    kept = list((first / "multirun").rglob("curve.npz"))
    assert len(kept) == 1 and len(np.load(kept[0])["loss"]) == STEPS  # the job trained to its end

    second = tmp_path / "second"
    env |= {"MLFLOW_TRACKING_PASSWORD": new_password}
    finish(start_sweep(second, env, *arguments, "resume=true"), second)

    cut = client.get_run(cut.info.run_id)
    assert cut.info.status == "KILLED"
    assert f"refused {USER}'s credentials" in cut.data.tags[Tags.FAILURE_REASON]
    assert len(stored_curve(client, cut.info.run_id, tmp_path / "read")) == STEPS
    (parent,) = sweep_runs(client, sweep_id, Tags.ROLE_SWEEP)
    assert parent.info.status == "KILLED" and "refused" in parent.data.tags[Tags.FAILURE_REASON]
    rerun = sweep_runs(client, sweep_id_of(second))  # its own runs: the two FINISHED ones are reused
    finished_first = {int(run.data.params["seed"]) for run in runs if run.info.status == "FINISHED"}
    assert sorted(int(run.data.params["seed"]) for run in rerun) == sorted(set(range(6)) - finished_first)
    assert {run.info.status for run in rerun} == {"FINISHED"}
    assert not list((tmp_path / "state").rglob("*.json"))  # every note was taken


def test_a_wrong_password_is_one_line_saying_the_server_refused_it(team_server, tmp_path):
    env = team_server.env("admin", "not-the-password")
    refused = start_sweep(tmp_path, env, "seed=0,1", "steps=20")
    assert refused.wait(timeout=300) == 2
    output = (tmp_path / "sweep.log").read_text()
    assert output.strip().splitlines() == [
        f"error: not authenticated: the server {team_server.url} refused admin's credentials (401): "
        "the password changed? set MLFLOW_TRACKING_PASSWORD and rerun with resume=true"
    ]
