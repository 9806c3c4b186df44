"""One real team server (PostgreSQL + MLflow with basic auth) and one real SLURM cluster (munged,
MariaDB, slurmdbd, slurmctld, slurmd) per test session, started on free ports in temporary directories
by the project's own starters (`python -m harness.server`, `tests.support.slurm`), stopped by PID at the
end, with nothing of them left running (asserted). Needs root and the Debian packages of `.ci/run`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from harness.services.process import free_port, is_alive, traversable
from harness.services.team_server import ADMIN, TeamServer
from tests.support.slurm import SlurmCluster

PASSWORD_LINE = re.compile(r"\(shown once, stored nowhere\): (\S+)")


def processes_mentioning(text: str) -> list[str]:
    """Live processes (but this one) whose command line or environment contains `text` (a service's
    directory: daemons name it in their arguments, SLURM job steps in SLURM_CONF)."""
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        line = " ".join(process.info["cmdline"] or [])
        environ = process.info["environ"] or {}
        if process.pid != os.getpid() and (text in line or any(text in value for value in environ.values())):
            found.append(f"{process.pid}: {line}")
    return found


def server_command(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m harness.server *arguments`, as an operator types it."""
    return subprocess.run(
        [sys.executable, "-m", "harness.server", *arguments],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})},
    )  # fmt: skip


def printed_password(result: subprocess.CompletedProcess) -> str:
    match = PASSWORD_LINE.search(result.stdout)
    assert match, result.stdout + result.stderr
    return match.group(1)


@dataclass
class RunningServer:
    """The session's team server; `admin_password` changes when a test rotates it."""

    server: TeamServer
    admin_password: str
    pids_seen: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def directory(self) -> Path:
        return self.server.directory

    def command(self, *arguments: str, **env: str) -> subprocess.CompletedProcess:
        result = server_command(*arguments, "--dir", str(self.directory), env=env)
        self.note_pids()
        return result

    @staticmethod
    def password_in(result: subprocess.CompletedProcess) -> str:
        """The password a command printed (once)."""
        return printed_password(result)

    def note_pids(self) -> None:
        status = self.server.status()
        self.pids_seen |= {status[key] for key in ("mlflow_pid", "postgres_pid") if status.get(key)}

    def env(self, username: str = ADMIN, password: str | None = None) -> dict[str, str]:
        password = self.admin_password if password is None else password
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": username,
            "MLFLOW_TRACKING_PASSWORD": password,
        }

    def get(self, path: str, username: str | None = None, password: str | None = None) -> int:
        """The HTTP status of GET `path`, with basic auth when a username is given."""
        request = urllib.request.Request(self.url + path)
        if username is not None:
            token = b64encode(f"{username}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


@pytest.fixture(scope="session")
def team_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("team-server")
    traversable(directory)  # the postgres account must reach its data directory
    started = server_command("start", "--dir", str(directory), "--port", str(free_port()))
    assert started.returncode == 0, started.stdout + started.stderr
    running = RunningServer(TeamServer(directory), printed_password(started))
    running.note_pids()
    try:
        yield running
    finally:
        running.note_pids()
        running.server.stop()
        alive = [pid for pid in running.pids_seen if is_alive(pid)]
        assert not alive and not processes_mentioning(str(directory)), (
            alive,
            processes_mentioning(str(directory)),
        )


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("slurm")
    cluster = SlurmCluster(directory)
    pids = cluster.start()
    try:
        yield cluster
    finally:
        pids |= {name: pid for name, pid in cluster.pids().items() if pid}
        cluster.stop()
        alive = {name: pid for name, pid in pids.items() if is_alive(pid)}
        assert not alive and not processes_mentioning(str(directory)), (
            alive,
            processes_mentioning(str(directory)),
        )
