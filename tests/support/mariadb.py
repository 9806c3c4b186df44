"""A MariaDB server of its own in a directory, for SLURM's accounting daemon (slurmdbd needs MySQL/MariaDB).

Installed once into `<dir>/data`, started on a free port of 127.0.0.1 (kept in `<dir>/state.json`) with
its socket in the directory; root reaches it through that socket (unix_socket authentication).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.services.process import (
    Service,
    as_user,
    is_alive,
    owned_dir,
    run,
    run_ok,
    saved_port,
    spawn,
    wait_until,
    which,
)

USER = "mysql"


@dataclass
class MariaDB(Service):
    name = "mariadbd"
    stop_seconds = 60
    files = {"data": "data", "socket": "mysqld.sock"}

    def _start(self, port: int | None = None, seconds: float = 60) -> None:
        owned_dir(self.directory, USER, 0o755)
        if not (self.data / "mysql").exists():
            run([which("mariadb-install-db"), "--no-defaults", f"--datadir={self.data}", f"--user={USER}",
                 "--skip-test-db", "--auth-root-authentication-method=socket"],
                "mariadb-install-db", cwd=self.directory)  # fmt: skip
        port = saved_port(self.state, "port", port)
        argv = [which("mariadbd"), "--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}",
                f"--pid-file={self.pid_file}", f"--log-error={self.log}", "--bind-address=127.0.0.1",
                f"--port={port}", "--innodb-buffer-pool-size=32M", "--skip-log-bin"]  # fmt: skip
        server = spawn(as_user(USER, argv), self.directory / "mariadbd.out", cwd=self.directory)
        wait_until(self.is_ready, seconds, "mariadbd", alive=lambda: is_alive(server), log=self.log)

    def is_ready(self) -> bool:
        return self.pid is not None and run_ok([which("mariadb-admin"), f"--socket={self.socket}", "ping"])

    def sql(self, statement: str) -> str:
        """Run SQL as MariaDB's root over the socket; its output."""
        command = [
            which("mariadb"),
            "--no-defaults",
            f"--socket={self.socket}",
            "-u",
            "root",
            "-N",
            "-e",
            statement,
        ]
        return run(command, "mariadb", log=self.log).stdout.strip()

    def ensure_user_and_database(self, user: str, password: str, database: str) -> None:
        quoted = password.replace("'", "''")
        self.sql(
            f"CREATE DATABASE IF NOT EXISTS `{database}`;"
            f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{quoted}';"
            f"ALTER USER '{user}'@'127.0.0.1' IDENTIFIED BY '{quoted}';"
            f"GRANT ALL ON `{database}`.* TO '{user}'@'127.0.0.1';"
        )
