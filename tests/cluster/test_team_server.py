"""`python -m harness.server`: PostgreSQL behind MLflow with basic auth, for real."""

from __future__ import annotations

import socket
import stat
import subprocess
import urllib.request
from pathlib import Path

import psutil
import pytest
import requests
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from harness.services.postgres import _bin as postgres_program
from harness.services.process import free_port, traversable
from harness.services.team_server import TeamServer
from tests.cluster.conftest import printed_password, processes_mentioning, server_command
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


def as_nobody(*argv: str) -> subprocess.CompletedProcess:
    """`argv` run by another local user (`nobody`), as anyone else on the machine could."""
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *argv], capture_output=True, text=True, timeout=60, cwd="/"
    )


def test_another_local_user_cannot_connect_to_the_servers_postgresql(team_server):
    port = str(team_server.server.postgres.port)
    psql = postgres_program("psql")
    socket_dir = team_server.directory / "postgres"
    for host in (str(socket_dir), "127.0.0.1"):  # the socket, and TCP: as the superuser, as MLflow's role
        for role in ("postgres", "mlflow"):
            tried = as_nobody(
                psql, "-w", "-h", host, "-p", port, "-U", role, "-d", "mlflow_auth", "-c", "select 1"
            )
            assert tried.returncode != 0, (host, role, tried.stdout)
            assert "permission denied" in tried.stderr.lower() or "password" in tried.stderr.lower(), (
                tried.stderr
            )
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
    rules = [
        line.split()
        for line in (socket_dir / "data" / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules), rules


def test_artifacts_and_logs_are_readable_only_by_the_servers_user(team_server, monkeypatch, tmp_path):
    _, run_id = log_a_run(team_server, monkeypatch, "private-artifacts")
    (tmp_path / "report.html").write_text("alice's results")
    MlflowClient(tracking_uri=team_server.url).log_artifact(run_id, str(tmp_path / "report.html"), "report")
    # (other tests log reports into the same session server: this run's own)
    reports = (team_server.directory / "artifacts").rglob("report.html")
    (stored,) = (path for path in reports if run_id in path.parts)

    for path in (stored, team_server.directory / "mlflow-server.log", team_server.directory / "server.json"):
        denied = as_nobody("cat", str(path))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, path
    assert as_nobody("ls", str(team_server.directory)).returncode != 0
    readable = [
        str(path)
        for path in team_server.directory.rglob("*")
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077 and not path.is_socket()
    ]  # PostgreSQL's socket is 0777, in its 0700 folder
    assert readable == []


def member(team_server, name: str) -> str:
    added = team_server.command("add-user", name, MLFLOW_TRACKING_PASSWORD=team_server.admin_password)
    assert added.returncode == 0, added.stdout + added.stderr
    return team_server.password_in(added)


def as_member(team_server, monkeypatch, name: str, password: str) -> MlflowClient:
    for key, value in team_server.env(name, password).items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=team_server.url)


def refused(action) -> str:
    """The refusal's text (the tracking API raises MlflowException, the artifact proxy HTTPError)."""
    with pytest.raises((MlflowException, requests.HTTPError)) as error:
        action()
    return str(error.value)


def test_a_member_reads_but_cannot_alter_anothers_runs_until_granted_and_runs_say_who(
    team_server, monkeypatch, tmp_path
):
    from harness.tracking import open_store

    alice, bob = member(team_server, "alice2"), member(team_server, "bob2")
    as_member(team_server, monkeypatch, "alice2", alice)
    store = open_store(team_server.url)
    experiment_id = store.experiment_id("alice2-study")
    run_id = store.start_run(experiment_id, "seed=0", {})
    (tmp_path / "curve.npz").write_bytes(b"alice's curve")
    store.log_artifact(run_id, tmp_path / "curve.npz")
    store.end(run_id, "FINISHED")
    run = store.run(run_id)
    assert run.info.user_id == "alice2" and run.data.tags["mlflow.user"] == "alice2"

    client = as_member(team_server, monkeypatch, "bob2", bob)
    assert client.get_run(run_id).info.status == "FINISHED"  # members read
    (tmp_path / "forged").mkdir()
    (tmp_path / "forged" / "curve.npz").write_bytes(b"bob's")
    for action in (
        lambda: client.log_metric(run_id, "eval_mse", 0.0),
        lambda: client.set_terminated(run_id, "FAILED"),
        lambda: client.rename_experiment(experiment_id, "renamed"),
        lambda: client.log_artifact(run_id, str(tmp_path / "forged" / "curve.npz")),
    ):
        message = refused(action)
        assert "403" in message or "PERMISSION_DENIED" in message, message
    check = as_member(team_server, monkeypatch, "alice2", alice)
    assert check.get_run(run_id).info.status == "FINISHED"
    assert "eval_mse" not in check.get_run(run_id).data.metrics
    kept = check.download_artifacts(run_id, "curve.npz", str(tmp_path / "read"))
    assert Path(kept).read_bytes() == b"alice's curve"

    as_alice = {"MLFLOW_TRACKING_USERNAME": "alice2", "MLFLOW_TRACKING_PASSWORD": alice}
    granted = team_server.command("grant", "bob2", "alice2-study", "edit", **as_alice)
    assert granted.returncode == 0, granted.stderr
    as_member(team_server, monkeypatch, "bob2", bob).log_metric(run_id, "shared_note", 1.0)
    assert check.get_run(run_id).data.metrics["shared_note"] == 1.0


def test_add_user_twice_or_with_a_colon_is_one_line(team_server):
    member(team_server, "carol2")
    again = team_server.command("add-user", "carol2", MLFLOW_TRACKING_PASSWORD=team_server.admin_password)
    assert again.returncode == 1 and again.stderr.strip().splitlines() == [
        "error: user carol2 exists: rotate its password instead (rotate-password --user)"
    ]
    colon = team_server.command("add-user", "a:b", MLFLOW_TRACKING_PASSWORD=team_server.admin_password)
    assert colon.returncode == 1 and len(colon.stderr.strip().splitlines()) == 1
    assert "user name 'a:b' is not allowed" in colon.stderr
    assert team_server.get(SEARCH, "a", "b:whatever") == 401


def test_a_server_on_every_address_names_the_host_warns_about_plain_http_and_drops_the_admin_password(
    tmp_path_factory,
):
    directory = tmp_path_factory.mktemp("public-server")
    traversable(directory)
    port = free_port()
    started = server_command("start", "--dir", str(directory), "--host", "0.0.0.0", "--port", str(port))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        password = printed_password(started)
        assert f"team server: http://{socket.getfqdn()}:{port} " in started.stdout
        assert "127.0.0.1" not in started.stdout
        assert "warning: Basic auth sends every password in clear over plain HTTP" in started.stdout
        holders = [
            pid
            for pid in mlflow_server_pids(directory)
            if password.encode() in Path(f"/proc/{pid}/environ").read_bytes()
        ]
        assert mlflow_server_pids(directory) and holders == []
        info = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/3.0/mlflow/server-info", timeout=30)
        assert info.status == 200  # unauthenticated, as the README says
    finally:
        server_command("stop", "--dir", str(directory))
    assert not processes_mentioning(str(directory))


def mlflow_server_pids(directory: Path) -> list[int]:
    """The `mlflow server` process of `directory` and all its children (its workers)."""
    server = psutil.Process(TeamServer(directory).mlflow.pid)
    return [server.pid, *(child.pid for child in server.children(recursive=True))]
