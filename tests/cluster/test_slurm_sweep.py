"""A sweep on the real SLURM cluster (`hydra/launcher=local_slurm`) into the authenticated team server,
the report read back through it, and a missing or wrong password refused before anything runs."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from harness.tracking import Tags
from tests.cluster.needs import SLURM, TEAM_SERVER

pytestmark = [TEAM_SERVER, SLURM]

STEPS = 200


@dataclass
class Command:
    result: subprocess.CompletedProcess
    cwd: Path

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


def harness(
    cwd: Path, module: str, *arguments: str, env: dict[str, str], drop: tuple[str, ...] = ()
) -> Command:
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg", **env}
    for name in drop:
        environment.pop(name, None)
    if module == "harness.run":
        arguments = (*arguments, f"hydra.sweep.dir={cwd}/multirun", f"hydra.run.dir={cwd}/outputs")
    result = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return Command(result, cwd)


def client_of(team_server, monkeypatch) -> MlflowClient:
    for key, value in team_server.env().items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=team_server.url)


def all_runs(client: MlflowClient) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, max_results=5000) if experiments else []


def sweep_id_in(output: str) -> str:
    return re.search(r"sweep (\d{8}-\d{6}-[0-9a-f]{4}): \d+ jobs", output).group(1)


@pytest.fixture(scope="module")
def slurm_sweep(team_server, slurm_cluster, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("slurm-sweep")
    env = team_server.env() | slurm_cluster.env
    sweep = harness(
        cwd, "harness.run", "-m", "seed=0,1", f"steps={STEPS}", "hydra/launcher=local_slurm", env=env
    )
    assert sweep.result.returncode == 0, sweep.output[-5000:]
    return sweep


def test_each_job_is_one_array_task_and_its_own_finished_child_run(
    slurm_sweep, slurm_cluster, team_server, monkeypatch
):
    folders = (slurm_sweep.cwd / "multirun" / ".submitit").iterdir()
    tasks = sorted(path.name for path in folders if re.fullmatch(r"\d+_\d+", path.name))
    array_ids = {task.split("_")[0] for task in tasks}
    assert len(tasks) == 2 and len(array_ids) == 1 and [t.split("_")[1] for t in tasks] == ["0", "1"]
    accounting = slurm_cluster.client("sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", array_ids.pop())
    assert sorted(accounting.stdout.split()) == [f"{task}|COMPLETED" for task in tasks], accounting

    client = client_of(team_server, monkeypatch)
    sweep_id = sweep_id_in(slurm_sweep.output)
    runs = [run for run in all_runs(client) if run.data.tags.get(Tags.SWEEP_ID) == sweep_id]
    (parent,) = [run for run in runs if run.data.tags[Tags.ROLE] == Tags.ROLE_SWEEP]
    children = [run for run in runs if run.data.tags[Tags.ROLE] == Tags.ROLE_JOB]
    assert parent.info.status == "FINISHED"
    assert {run.data.tags[Tags.PARENT_RUN_ID] for run in children} == {parent.info.run_id}
    assert sorted(run.data.params["seed"] for run in children) == ["0", "1"]
    for run in children:
        assert run.info.status == "FINISHED"
        # `loss` is logged as window means every log_every_n_steps (10), at each window's last step
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == list(range(9, STEPS, 10))


def test_the_sweep_ends_with_its_report(slurm_sweep):
    (path,) = re.findall(r"report: (\S+report\.html)", slurm_sweep.output)
    assert (slurm_sweep.cwd / path).stat().st_size > 0


def test_harness_report_reads_the_sweep_back_from_the_server(slurm_sweep, team_server, tmp_path):
    sweep_id = sweep_id_in(slurm_sweep.output)
    report = harness(tmp_path, "harness.report", "--sweep", sweep_id, "--out", "again", env=team_server.env())
    assert report.result.returncode == 0, report.output
    with open(tmp_path / "again" / sweep_id / "summary.csv") as file:
        (row,) = list(csv.DictReader(file))
    assert row["n"] == "2"


def test_no_credential_is_written_anywhere_the_project_writes(slurm_sweep, team_server):
    password = team_server.admin_password.encode()
    places = [slurm_sweep.cwd, team_server.directory / "artifacts"]
    leaks = [
        str(path)
        for place in places
        for path in place.rglob("*")
        if path.is_file() and password in path.read_bytes()
    ]
    assert leaks == []
    assert team_server.admin_password not in team_server.server.postgres.dump("mlflow")
    assert team_server.admin_password not in slurm_sweep.output


@pytest.mark.parametrize("password", [None, "not-the-password"], ids=["missing", "wrong"])
def test_a_missing_or_wrong_password_is_one_line_and_nothing_runs(
    password, team_server, slurm_cluster, tmp_path, monkeypatch
):
    client = client_of(team_server, monkeypatch)
    runs_before = len(all_runs(client))
    jobs_before = slurm_cluster.client("sacct", "-n", "-X", "-a", "-o", "JobID").stdout.split()
    env = team_server.env() | slurm_cluster.env
    if password is not None:
        env["MLFLOW_TRACKING_PASSWORD"] = password
    drop = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD") if password is None else ()
    for name in drop:
        env.pop(name)
    sweep = harness(
        tmp_path, "harness.run", "-m", "seed=0,1", "hydra/launcher=local_slurm", env=env, drop=drop
    )
    assert sweep.result.returncode == 2
    # a wrong password: the server refused it (both variables are set; saying to set them is wrong)
    said = (
        f"set MLFLOW_TRACKING_USERNAME/PASSWORD ({team_server.url} answered 401)"
        if password is None
        else f"the server {team_server.url} refused admin's credentials (401): the password changed? "
        "set MLFLOW_TRACKING_PASSWORD and rerun with resume=true"
    )
    assert sweep.result.stderr.strip().splitlines() == [f"error: not authenticated: {said}"]
    assert not (tmp_path / "multirun").exists()
    assert slurm_cluster.client("sacct", "-n", "-X", "-a", "-o", "JobID").stdout.split() == jobs_before
    assert len(all_runs(client)) == runs_before
