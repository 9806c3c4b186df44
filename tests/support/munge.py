"""munged, SLURM's authentication daemon, with its own key and socket in a directory (nothing in /etc or
/run): SLURM finds the socket through `AuthInfo=socket=...` in slurm.conf."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from harness.services.process import Service, as_user, owned_dir, run, run_ok, wait_until, which

USER = "munge"


@dataclass
class Munge(Service):
    name = "munged"
    files = {"socket": "munge.socket", "key": "munge.key"}

    def _start(self, seconds: float = 30) -> None:
        # munged refuses a socket directory others can write to; 0755 lets every user reach the socket
        owned_dir(self.directory, USER, 0o755)
        if not self.key.exists():
            run(as_user(USER, [which("mungekey"), "--create", f"--keyfile={self.key}"]), "mungekey")
        run(as_user(USER, [which("munged"), f"--socket={self.socket}", f"--key-file={self.key}",
                           f"--pid-file={self.pid_file}", f"--log-file={self.log}",
                           f"--seed-file={self.directory / 'munged.seed'}"]),
            "munged", log=self.log)  # fmt: skip
        wait_until(self.is_ready, seconds, "munged", log=self.log)

    def is_ready(self) -> bool:
        """A credential made and decoded through the socket, as SLURM will."""
        encode = subprocess.run([which("munge"), "-n", f"--socket={self.socket}"], capture_output=True)
        if encode.returncode != 0:
            return False
        return run_ok([which("unmunge"), f"--socket={self.socket}"], input=encode.stdout)
