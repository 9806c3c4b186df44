"""A PostgreSQL server of its own in a directory: `initdb` once, then `pg_ctl start/stop`, on a free port.

Every connection needs a password (scram-sha-256, over the socket and over TCP on 127.0.0.1; no `trust`),
the superuser's too: it is generated once into `<dir>/superuser-password` (0600). The directory, which
holds the socket, is 0700 and the postgres account's: no other local user reaches the socket. The data
stays in `<dir>/data` across restarts; the port is kept in `<dir>/state.json`. A data directory made
before (with `trust` for the socket) is moved to passwords on its next start.
"""

from __future__ import annotations

import glob
import os
import secrets
import signal
from dataclasses import dataclass

from harness.services.process import (
    Service,
    as_user,
    chown,
    owned_dir,
    run,
    run_ok,
    saved_port,
    wait_until,
    which,
)

USER = "postgres"
# Who may connect, and how: only with a password, whatever the way in (pg_hba.conf, written whole).
HBA = (
    "# written by harness.services.postgres: every connection authenticates with a password\n"
    "local all all scram-sha-256\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "host all all ::1/128 scram-sha-256\n"
)


def _bin(program: str) -> str:
    return which(program, *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))


@dataclass
class Postgres(Service):
    name = "postgres"
    # SIGINT is PostgreSQL's fast shutdown: clean, and it does not wait for connected clients to leave
    # (SIGTERM would, for as long as MLflow's pool is open).
    stop_signal = signal.SIGINT
    stop_seconds = 60
    files = {"data": "data", "pid_file": "data/postmaster.pid"}

    def _start(self, port: int | None = None, seconds: float = 60) -> None:
        """Start (initialising the data directory the first time)."""
        owned_dir(self.directory, USER, 0o700)
        password_file = self.directory / "superuser-password"
        if not password_file.exists():
            password_file.touch(mode=0o600)
            password_file.write_text(secrets.token_urlsafe(24))
            chown(password_file, USER)
        if not (self.data / "PG_VERSION").exists():
            run(as_user(USER, [_bin("initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={password_file}",
                               "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8",
                               "--no-sync"]),
                "initdb", cwd=self.directory)  # fmt: skip
        port = saved_port(self.state, "port", port)
        options = f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1"
        run(as_user(USER, [_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                           "-w", "-t", str(int(seconds)), "start"]),
            "pg_ctl start", log=self.log, cwd=self.directory)  # fmt: skip
        wait_until(self.is_ready, seconds, "postgres", log=self.log)
        self._require_passwords(password_file.read_text().strip())

    def _require_passwords(self, password: str) -> None:
        """pg_hba.conf as HBA (a directory initialised with `trust` gets the superuser's password first,
        while trust still lets it in), then reloaded."""
        hba = self.data / "pg_hba.conf"
        if hba.read_text() == HBA:
            return
        quoted = password.replace("'", "''")
        self.sql(f"ALTER ROLE \"{USER}\" PASSWORD '{quoted}'")
        hba.write_text(HBA)
        self.sql("SELECT pg_reload_conf()")

    def is_ready(self) -> bool:
        if self.port is None:
            return False
        command = [_bin("pg_isready"), "-q", "-h", str(self.directory), "-p", str(self.port)]
        return run_ok(as_user(USER, command))

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one SQL statement as the superuser over the local socket; its output (tuples only)."""
        command = [_bin("psql"), "-h", str(self.directory), "-p", str(self.port), "-d", database,
                   "-v", "ON_ERROR_STOP=1", "-tAc", statement]  # fmt: skip
        return run(as_user(USER, command), "psql", log=self.log, env=self._env()).stdout.strip()

    def _env(self) -> dict[str, str]:
        """The environment of a client run as the superuser: its password (never on a command line)."""
        password = (self.directory / "superuser-password").read_text().strip()
        return {**os.environ, "PGPASSWORD": password}

    def dump(self, database: str) -> str:
        """The database as SQL text (`pg_dump`), e.g. for a backup."""
        command = [_bin("pg_dump"), "-h", str(self.directory), "-p", str(self.port), database]
        return run(as_user(USER, command), "pg_dump", log=self.log, env=self._env()).stdout

    def ensure_role(self, role: str, password: str) -> None:
        """A login role with this password (created, or its password reset)."""
        quoted = password.replace("'", "''")
        exists = self.sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'")
        verb = "ALTER" if exists else "CREATE"
        self.sql(f"{verb} ROLE \"{role}\" LOGIN PASSWORD '{quoted}'")

    def ensure_database(self, name: str, owner: str) -> None:
        if not self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')

    def url(self, database: str, role: str) -> str:
        """A SQLAlchemy URL over TCP without the password (libpq reads it from PGPASSFILE)."""
        return f"postgresql://{role}@127.0.0.1:{self.port}/{database}"
