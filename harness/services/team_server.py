"""A team's MLflow tracking server in one directory: PostgreSQL (its own, or one the team has) as the
backend store, MLflow's basic-auth app with its users in a second PostgreSQL database, artifacts
proxied by the server (`--serve-artifacts`) into `<dir>/artifacts`.

    <dir>/server.json        host, port, database URLs (no passwords), whether the admin exists
    <dir>/secrets/           0700: pgpass (the database role's password), flask-secret-key, 0600 each
    <dir>/auth.ini           MLflow's basic-auth config (points to the auth database; no password)
    <dir>/postgres/          the server's own PostgreSQL (data, log), unless --backend-store-uri is given
    <dir>/artifacts/         every run's artifacts
    <dir>/mlflow-server.log  and .pid

The admin password is generated on the first start and returned to be shown once; it is not written
anywhere (the first server process gets it in its environment to create the admin user, which MLflow
does only when the user does not exist, and is then restarted without it). Rotating it goes through
the server's API.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from harness.services import auth_api
from harness.services.mlflow_server import MlflowServer, is_healthy
from harness.services.postgres import Postgres
from harness.services.process import ServiceError, StateFile, free_port, port_is_free

ADMIN = "admin"
ROLE = "mlflow"
TRACKING_DATABASE = "mlflow"
AUTH_DATABASE = "mlflow_auth"
DEFAULT_PORT = 5000
# MLflow's own model: members may read every experiment; the creator of an experiment or registered
# model manages it (and may `grant` others edit); outsiders get 401.
DEFAULT_PERMISSION = "READ"


def new_password() -> str:
    return secrets.token_urlsafe(18)  # 24 characters; MLflow asks for at least 12


def _secret_file(path: Path, make) -> str:
    """The secret in `path`, made (0600) the first time."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


@dataclass
class Started:
    url: str
    admin_password: str | None  # only on the start that created the admin user
    pids: dict[str, int]


@dataclass
class TeamServer:
    directory: Path

    def __post_init__(self):
        self.directory = Path(self.directory).resolve()
        self.settings = StateFile(self.directory / "server.json")
        self.secrets = self.directory / "secrets"
        self.postgres = Postgres(self.directory / "postgres")

    @property
    def mlflow(self) -> MlflowServer:
        """The `mlflow server` process of this directory (stop it alone to restart it with `start`)."""
        return self._mlflow()

    def _mlflow(self) -> MlflowServer:
        settings = self.settings.read()
        return MlflowServer(
            self.directory, settings.get("host", "127.0.0.1"), settings.get("port", DEFAULT_PORT),
            settings.get("backend_store_uri"), self.directory / "artifacts", app_name="basic-auth",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return self._mlflow().url

    @property
    def own_postgres(self) -> bool:
        return not self.settings.read().get("external_database", False)

    def start(self, host: str | None = None, port: int | None = None, backend_store_uri: str | None = None,
              auth_db_uri: str | None = None, allowed_hosts: str | None = None) -> Started:  # fmt: skip
        """Start what is not running (PostgreSQL, then MLflow) and wait until the server is healthy."""
        if (backend_store_uri is None) != (auth_db_uri is None):
            raise ServiceError(
                "give both --backend-store-uri and --auth-db-uri (an existing PostgreSQL), or neither"
            )
        os.umask(0o077)  # this process and the servers it starts: what they write is the owner's alone
        self.directory.mkdir(parents=True, exist_ok=True)
        self._make_private()
        settings = self._settle(host, port, backend_store_uri, auth_db_uri, allowed_hosts)
        self.secrets.mkdir(mode=0o700, exist_ok=True)
        self.secrets.chmod(0o700)
        pids, env = {}, {}
        if self.own_postgres:
            pids["postgres"] = self._start_postgres()
            env["PGPASSFILE"] = str(self.secrets / "pgpass")
            settings = self.settings.read()
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(self._write_auth_config(settings["auth_db_uri"]))
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = _secret_file(
            self.secrets / "flask-secret-key", secrets.token_hex
        )
        if settings.get("allowed_hosts"):
            env["MLFLOW_SERVER_ALLOWED_HOSTS"] = settings["allowed_hosts"]
        admin_password = None
        server = self._mlflow()
        if server.pid is None and not settings.get("admin_created"):
            admin_password = env["MLFLOW_AUTH_ADMIN_PASSWORD"] = new_password()
        pids["mlflow"] = server.start(env=env)
        if admin_password is not None:
            self.settings.update(admin_created=True)
            # MLflow made the admin user; a server that kept its password in its environment for life
            # would show it to anyone who reads /proc/<pid>/environ as root, or a core dump: restart bare
            server.stop()
            env.pop("MLFLOW_AUTH_ADMIN_PASSWORD")
            pids["mlflow"] = server.start(env=env)
        return Started(server.url, admin_password, pids)

    def _make_private(self) -> None:
        """Everything under the directory readable by its owner only (what an earlier version left
        readable included); the directory itself may be passed through (0711) so that the postgres
        account reaches `postgres/`, which is its own and 0700."""
        self.directory.chmod(0o711)
        for root, directories, files in os.walk(self.directory):
            if Path(root) == self.directory and "postgres" in directories:
                directories.remove("postgres")
            for name in directories + files:
                path = Path(root, name)
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode & 0o700)

    def _settle(self, host, port, backend_store_uri, auth_db_uri, allowed_hosts) -> dict:
        """This start's settings: the arguments given, else those of the last start, else defaults."""
        saved = self.settings.read()
        if port is None and "port" not in saved:
            port = DEFAULT_PORT if port_is_free(DEFAULT_PORT) else free_port()
        given = {"host": host, "port": port, "allowed_hosts": allowed_hosts}
        if backend_store_uri:
            given |= {
                "backend_store_uri": backend_store_uri,
                "auth_db_uri": auth_db_uri,
                "external_database": True,
            }
        settings = saved | {key: value for key, value in given.items() if value is not None}
        settings.setdefault("host", "127.0.0.1")
        return self.settings.update(**settings)

    def _start_postgres(self) -> int:
        password = _secret_file(self.secrets / "database-password", new_password)
        pid = self.postgres.start()
        self.postgres.ensure_role(ROLE, password)
        for database in (TRACKING_DATABASE, AUTH_DATABASE):
            self.postgres.ensure_database(database, ROLE)
        pgpass = self.secrets / "pgpass"
        pgpass.touch(mode=0o600)
        pgpass.write_text(f"127.0.0.1:*:*:{ROLE}:{password}\n")
        self.settings.update(
            backend_store_uri=self.postgres.url(TRACKING_DATABASE, ROLE),
            auth_db_uri=self.postgres.url(AUTH_DATABASE, ROLE),
        )
        return pid

    def _write_auth_config(self, auth_db_uri: str) -> Path:
        path = self.directory / "auth.ini"
        path.touch(mode=0o600)
        path.write_text(
            "[mlflow]\n"
            f"default_permission = {DEFAULT_PERMISSION}\n"
            f"database_uri = {auth_db_uri}\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        return path

    def stop(self) -> None:
        """Stop MLflow, then (if it is the server's own) PostgreSQL; the data stays."""
        self._mlflow().stop()
        if self.own_postgres:
            self.postgres.stop()

    def status(self) -> dict:
        server = self._mlflow()
        status = {
            "url": server.url,
            "mlflow_pid": server.pid,
            "healthy": server.pid is not None and is_healthy(server.url),
            "directory": str(self.directory),
        }
        if self.own_postgres:
            status |= {"postgres_pid": self.postgres.pid, "postgres_port": self.postgres.port}
        return status

    def rotate_password(self, current: str, username: str = ADMIN) -> str:
        """Give `username` a new generated password through the running server's API; the new one."""
        password = new_password()
        auth_api.change_password(self.url, username, current, password)
        return password

    def add_user(self, admin_password: str, username: str) -> str:
        """A new team member with a generated password (returned, not stored)."""
        password = new_password()
        auth_api.create_user(self.url, ADMIN, admin_password, username, password)
        return password


def environment_for(url: str, username: str, password: str) -> dict[str, str]:
    """What a user sets to track into the server."""
    return {
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_TRACKING_USERNAME": username,
        "MLFLOW_TRACKING_PASSWORD": password,
    }
