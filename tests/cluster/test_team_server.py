"""`python -m harness.server`: PostgreSQL behind MLflow with basic auth, for real."""

from __future__ import annotations

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from tests.cluster.needs import TEAM_SERVER

pytestmark = [TEAM_SERVER]

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def log_a_run(running, monkeypatch, experiment: str, values: int = 50, **credentials) -> tuple[str, str]:
    """A run with `values` loss values and a text artifact, logged over HTTP; (experiment id, run id)."""
    for key, value in running.env(**credentials).items():
        monkeypatch.setenv(key, value)
    client = MlflowClient(tracking_uri=running.url)
    existing = client.get_experiment_by_name(experiment)
    experiment_id = existing.experiment_id if existing else client.create_experiment(experiment)
    run_id = client.create_run(experiment_id).info.run_id
    metrics = [Metric("loss", 1.0 / (step + 1), 0, step) for step in range(values)]
    client.log_batch(run_id, metrics=metrics, synchronous=True)
    client.set_terminated(run_id)
    return experiment_id, run_id


def test_health_answers_without_credentials(team_server):
    assert team_server.get("/health") == 200


def test_without_credentials_or_with_a_wrong_password_the_api_says_401(team_server):
    assert team_server.get(SEARCH) == 401
    assert team_server.get(SEARCH, "admin", "not-the-password") == 401
    assert team_server.get(SEARCH, "nobody", team_server.admin_password) == 401
    assert team_server.get(SEARCH, "admin", team_server.admin_password) == 200


def test_the_admin_logs_a_run_with_an_artifact_proxied_into_the_server_directory(
    team_server, monkeypatch, tmp_path
):
    _, run_id = log_a_run(team_server, monkeypatch, "admin-logs", values=300)
    client = MlflowClient(tracking_uri=team_server.url)
    (tmp_path / "note.txt").write_text("kept by the server")
    client.log_artifact(run_id, str(tmp_path / "note.txt"))
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [1.0 / (s + 1) for s in range(300)]
    assert client.get_run(run_id).info.status == "FINISHED"
    stored = list((team_server.directory / "artifacts").rglob("note.txt"))
    assert len(stored) == 1 and stored[0].read_text() == "kept by the server"


def test_runs_users_and_address_survive_a_restart(team_server, monkeypatch):
    experiment_id, run_id = log_a_run(team_server, monkeypatch, "survives-restart", values=120)
    url = team_server.url

    stopped = team_server.command("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert team_server.command("status").returncode == 3

    restarted = team_server.command("start")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "admin password" not in restarted.stdout  # told once, on the first start only
    status = team_server.command("status")
    assert status.returncode == 0 and f"url: {url}" in status.stdout
    client = MlflowClient(tracking_uri=team_server.url)
    assert len(client.get_metric_history(run_id, "loss")) == 120
    assert client.get_run(run_id).info.experiment_id == experiment_id
    assert team_server.get(SEARCH, "admin", team_server.admin_password) == 200


def test_rotating_the_admin_password_retires_the_old_one(team_server):
    old = team_server.admin_password
    wrong = team_server.command("rotate-password", MLFLOW_TRACKING_PASSWORD="not-the-password")
    assert (
        wrong.returncode == 1
        and wrong.stderr.strip().count("\n") == 0
        and "not authenticated" in wrong.stderr
    )

    rotated = team_server.command("rotate-password", MLFLOW_TRACKING_PASSWORD=old)
    assert rotated.returncode == 0, rotated.stderr
    new = team_server.password_in(rotated)
    team_server.admin_password = new
    assert new != old
    assert team_server.get(SEARCH, "admin", old) == 401
    assert team_server.get(SEARCH, "admin", new) == 200


def test_a_member_the_admin_adds_can_log_and_a_wrong_password_cannot(team_server, monkeypatch):
    added = team_server.command("add-user", "alice", MLFLOW_TRACKING_PASSWORD=team_server.admin_password)
    assert added.returncode == 0, added.stderr
    password = team_server.password_in(added)
    _, run_id = log_a_run(team_server, monkeypatch, "alice-study", username="alice", password=password)
    assert team_server.get(f"/api/2.0/mlflow/runs/get?run_id={run_id}", "alice", password) == 200
    assert team_server.get(SEARCH, "alice", password + "x") == 401


def test_no_password_is_written_into_the_server_directory(team_server):
    secrets = [team_server.admin_password.encode()]
    leaks = [
        str(path)
        for path in team_server.directory.rglob("*")
        if path.is_file() and any(secret in path.read_bytes() for secret in secrets)
    ]
    assert leaks == []
