"""munged, SLURM's authentication daemon, with its own key and socket in a directory (nothing in /etc or
/run): SLURM finds the socket through `AuthInfo=socket=...` in slurm.conf."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.services.process import (
    ServiceError,
    as_user,
    owned_dir,
    read_pid,
    run,
    run_ok,
    stop_pid,
    wait_until,
    which,
)

USER = "munge"


@dataclass
class Munge:
    directory: Path

    def __post_init__(self):
        self.directory = Path(self.directory).resolve()
        self.socket = self.directory / "munge.socket"
        self.key = self.directory / "munge.key"
        self.pid_file = self.directory / "munged.pid"
        self.log = self.directory / "munged.log"

    @property
    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def start(self, seconds: float = 30) -> int:
        if self.pid is not None:
            return self.pid
        # munged refuses a socket directory others can write to; 0755 lets every user reach the socket
        owned_dir(self.directory, USER, 0o755)
        if not self.key.exists():
            run(as_user(USER, [which("mungekey"), "--create", f"--keyfile={self.key}"]), "mungekey")
        run(as_user(USER, [which("munged"), f"--socket={self.socket}", f"--key-file={self.key}",
                           f"--pid-file={self.pid_file}", f"--log-file={self.log}",
                           f"--seed-file={self.directory / 'munged.seed'}"]),
            "munged", log=self.log)  # fmt: skip
        wait_until(self.is_ready, seconds, "munged", log=self.log)
        return self.pid

    def is_ready(self) -> bool:
        """A credential made and decoded through the socket, as SLURM will."""
        encode = subprocess.run([which("munge"), "-n", f"--socket={self.socket}"], capture_output=True)
        if encode.returncode != 0:
            return False
        return run_ok([which("unmunge"), f"--socket={self.socket}"], input=encode.stdout)

    def stop(self, seconds: float = 30) -> None:
        pid = self.pid
        stop_pid(pid, seconds)
        if self.pid is not None:
            raise ServiceError(f"munged {pid} did not stop; log: {self.log}")
