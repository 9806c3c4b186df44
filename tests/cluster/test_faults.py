"""Faults with nothing lost: the MLflow server or its PostgreSQL restarted in the middle of a sweep, and
two users sweeping into the same server at once. Every run and every logged value is counted."""

from __future__ import annotations

import re

import pytest
from mlflow.tracking import MlflowClient

from harness.tracking import Tags
from tests.cluster.needs import SLURM, TEAM_SERVER
from tests.cluster.sweeps import (
    count_kept_values,
    finish,
    start_sweep,
    sweep_id_of,
    sweep_runs,
    wait_for,
)

pytestmark = [TEAM_SERVER]

STEPS = 30000  # long enough for the first job to be mid-curve when the restart comes
OUTAGE_FELT = r"store not answering|trying again for up to"  # harness.job.job, harness.tracking
FINAL_METRICS = {"train_seconds", "eval_mse", "eval_max_abs_err", "final_loss"}


def admin_client(team_server, monkeypatch) -> MlflowClient:
    for key, value in team_server.env().items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=team_server.url)


def assert_every_value_kept(client, sweep_id: str, seeds: list[int], steps: int, into) -> int:
    """Every job FINISHED under the sweep's parent, its params, final metrics and whole curve stored,
    each point once; the number of `loss` points counted."""
    runs = sweep_runs(client, sweep_id)
    assert sorted(int(run.data.params["seed"]) for run in runs) == seeds
    (parent,) = sweep_runs(client, sweep_id, Tags.ROLE_SWEEP)
    assert parent.info.status == "FINISHED"
    counted = 0
    for run in runs:
        assert run.info.status == "FINISHED", run.data.tags
        assert run.data.tags[Tags.PARENT_RUN_ID] == parent.info.run_id
        assert int(run.data.params["steps"]) == steps
        assert FINAL_METRICS <= set(run.data.metrics)
        counted += count_kept_values(client, run, steps, into)
    return counted


@pytest.mark.parametrize("restarted", ["mlflow server", "postgresql"])
def test_a_restart_mid_sweep_loses_no_run_and_no_value(restarted, team_server, tmp_path, monkeypatch):
    client = admin_client(team_server, monkeypatch)
    sweep = start_sweep(
        tmp_path, team_server.env(), "seed=0,1,2", f"steps={STEPS}", "report=false", "register=false"
    )
    try:
        sweep_id = wait_for(lambda: sweep_id_of(tmp_path), 300, "sweep started")
        first = wait_for(lambda: sweep_runs(client, sweep_id), 300, "job run")[0]
        wait_for(lambda: client.get_metric_history(first.info.run_id, "loss"), 300, "loss values")
        stopped = team_server.server.mlflow if restarted == "mlflow server" else team_server.server.postgres
        stopped.stop()
        # down until the sweep has felt it (a request failed), then back with the same data
        wait_for(lambda: re.search(OUTAGE_FELT, (tmp_path / "sweep.log").read_text()), 300, "failed request")
        team_server.server.start()
        team_server.note_pids()
        output = finish(sweep, tmp_path)
    finally:
        sweep.kill()
    counted = assert_every_value_kept(client, sweep_id, [0, 1, 2], STEPS, tmp_path / "read")
    assert counted == 3 * STEPS // 10  # 3 runs x 3000 window means, each once
    assert f"sweep {sweep_id} done: 3 finished" in output


@SLURM
def test_two_users_sweeping_at_once_into_one_server_each_get_all_their_runs(
    team_server, slurm_cluster, tmp_path, monkeypatch
):
    users = {}
    for name in ("ann", "bob"):
        added = team_server.command("add-user", name, MLFLOW_TRACKING_PASSWORD=team_server.admin_password)
        assert added.returncode == 0, added.stdout + added.stderr
        users[name] = team_server.password_in(added)
    seeds = {"ann": [0, 1], "bob": [2, 3]}
    sweeps = {}
    for name in users:
        env = team_server.env(name, users[name]) | slurm_cluster.env
        values = ",".join(map(str, seeds[name]))
        sweeps[name] = start_sweep(
            tmp_path / name,
            env,
            f"seed={values}",
            "steps=500",
            "report=false",
            "register=false",
            "hydra/launcher=local_slurm",
            f"experiment={name}-study",  # a member reads the others' experiments and writes their own
        )
    try:
        outputs = {name: finish(sweep, tmp_path / name) for name, sweep in sweeps.items()}
    finally:
        for sweep in sweeps.values():
            sweep.kill()

    client = admin_client(team_server, monkeypatch)
    for name in users:
        sweep_id = sweep_id_of(tmp_path / name)
        counted = assert_every_value_kept(client, sweep_id, seeds[name], 500, tmp_path / "read")
        assert counted == 2 * 50  # 2 runs x 50 window means, each once
        assert f"sweep {sweep_id} done: 2 finished" in outputs[name]
