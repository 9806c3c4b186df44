"""SLURM stops a job: its time limit, or `scancel`. The run ends KILLED with the reason and its curve so
far, and the sweep goes on to its end and reports it."""

from __future__ import annotations

import re

from mlflow.tracking import MlflowClient

from harness.job.slurm_stops import CANCELLED, TIME_LIMIT
from harness.tracking import Tags
from tests.cluster.needs import SLURM, TEAM_SERVER
from tests.cluster.sweeps import count_kept_values, finish, start_sweep, sweep_id_of, sweep_runs, wait_for

pytestmark = [TEAM_SERVER, SLURM]

LONG = 3_000_000  # steps no job finishes within the limits below


def slurm_job_ids(cwd) -> list[str]:
    """The SLURM ids of the sweep's jobs (`<job>` alone, `<array>_<task>` in an array)."""
    folders = (cwd / "multirun" / ".submitit").iterdir()
    return sorted(path.name for path in folders if re.fullmatch(r"\d+(_\d+)?", path.name))


def assert_killed_with_curve(client: MlflowClient, run, reason: str, into) -> int:
    """KILLED with `reason`; its curve so far kept whole; the steps it trained."""
    assert run.info.status == "KILLED", run.data.tags
    assert run.data.tags[Tags.FAILURE_REASON] == reason
    trained = int(run.data.tags[Tags.FAILURE_STEP])
    assert 0 < trained < LONG
    count_kept_values(client, run, trained, into)
    return trained


def test_a_time_limit_and_scancel_end_the_run_killed_with_its_curve_and_the_sweep_goes_on(
    team_server, slurm_cluster, tmp_path, monkeypatch
):
    for key, value in team_server.env().items():
        monkeypatch.setenv(key, value)
    client = MlflowClient(tracking_uri=team_server.url)
    env = team_server.env() | slurm_cluster.env
    limited, at_limit, cancelled = tmp_path / "limited", tmp_path / "at-limit", tmp_path / "cancelled"
    # submitit asks SLURM for SIGUSR2 signal_delay_s (30 s) before the 2-minute limit, which SLURM may send
    # up to 60 s early: 30 to 90 s into the job, when the long job is training and the short one is done.
    over_time = start_sweep(limited, env, f"steps=200,{LONG}", "hydra/launcher=local_slurm",
                            "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=30")  # fmt: skip
    # a job asking for a warning signal Python ignores (SIGURG) instead: only SLURM's SIGTERM at the limit
    to_limit = start_sweep(at_limit, env, f"steps={LONG}", "report=false", "hydra/launcher=local_slurm",
                           "hydra.launcher.timeout_min=1",
                           "+hydra.launcher.additional_parameters.signal=URG@30")  # fmt: skip
    to_cancel = start_sweep(cancelled, env, f"steps={LONG}", "report=false", "hydra/launcher=local_slurm")
    sweeps = (over_time, to_limit, to_cancel)
    try:
        (job,) = wait_for(lambda: sweep_runs(client, sweep_id_of(cancelled)), 300, "job run to cancel")
        wait_for(lambda: client.get_metric_history(job.info.run_id, "loss"), 300, "loss values")
        (job_id,) = slurm_job_ids(cancelled)
        assert slurm_cluster.client("scancel", job_id).returncode == 0
        cancelled_output = finish(to_cancel, cancelled, 300)
        at_limit_output = finish(to_limit, at_limit, 600)
        limited_output = finish(over_time, limited, 600)
    finally:
        for sweep in sweeps:
            sweep.kill()

    sweep_id = sweep_id_of(cancelled)
    (job,) = sweep_runs(client, sweep_id)
    assert_killed_with_curve(client, job, CANCELLED, tmp_path / "read")
    (parent,) = sweep_runs(client, sweep_id, Tags.ROLE_SWEEP)
    assert parent.info.status == "FINISHED"
    assert f"sweep {sweep_id} done: 1 killed" in cancelled_output
    accounting = slurm_cluster.client("sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id)
    assert accounting.stdout.split()[0].startswith("CANCELLED"), accounting

    sweep_id = sweep_id_of(at_limit)
    (job,) = sweep_runs(client, sweep_id)
    assert_killed_with_curve(client, job, TIME_LIMIT, tmp_path / "read")
    assert f"sweep {sweep_id} done: 1 killed" in at_limit_output
    (job_id,) = slurm_job_ids(at_limit)
    accounting = slurm_cluster.client("sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id)
    assert accounting.stdout.split()[0] == "TIMEOUT", accounting

    sweep_id = sweep_id_of(limited)
    runs = {run.data.params["steps"]: run for run in sweep_runs(client, sweep_id)}
    assert runs["200"].info.status == "FINISHED"
    assert_killed_with_curve(client, runs[str(LONG)], TIME_LIMIT, tmp_path / "read")
    (parent,) = sweep_runs(client, sweep_id, Tags.ROLE_SWEEP)
    assert parent.info.status == "FINISHED"
    assert f"sweep {sweep_id} done: 1 finished, 1 killed" in limited_output
    (report,) = re.findall(r"report: (\S+report\.html)", limited_output)
    assert (limited / report).stat().st_size > 0
