"""What every service starter shares (the team server's here, the tests' SLURM cluster in tests/support):
the `Service` base, free ports, running a command as a service account, waiting with a bound (tenacity),
and stopping a daemon by the PID it wrote (psutil tells a live process from a gone or zombie one).

Services run as their own accounts (`postgres`, `mysql`, `munge`, `slurm`), which refuse to run as
root; when this process is root it switches with `runuser -u`, otherwise it runs them as itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psutil
import tenacity


class ServiceError(RuntimeError):
    """A service would not start or stop; the message says which and where its log is."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether nothing listens on `port` (TIME_WAIT connections do not count: servers reuse the address)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def is_root() -> bool:
    return os.geteuid() == 0


def as_user(user: str, argv: Sequence[str]) -> list[str]:
    """`argv` run as `user` (through `runuser` when root; unchanged otherwise)."""
    if is_root() and user != "root":
        return ["runuser", "-u", user, "--", *argv]
    return list(argv)


def owned_dir(path: Path, user: str, mode: int = 0o700) -> Path:
    """`path` created (with parents) and, when root, handed to `user`."""
    path.mkdir(parents=True, exist_ok=True)
    if is_root():
        account = pwd.getpwnam(user)
        os.chown(path, account.pw_uid, account.pw_gid)
    path.chmod(mode)
    return path


def chown(path: Path, user: str) -> None:
    if is_root():
        account = pwd.getpwnam(user)
        os.chown(path, account.pw_uid, account.pw_gid)


def traversable(path: Path) -> None:
    """Let service accounts reach `path` and the directories above it (pytest's are 0700)."""
    for directory in [path, *path.parents]:
        if directory == Path("/"):
            break
        mode = directory.stat().st_mode
        if mode & 0o011 != 0o011 and directory.stat().st_uid == os.geteuid():
            directory.chmod(mode | 0o011)


def run(argv: Sequence[str], what: str, log: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run `argv` to its end; a failure is a ServiceError with the command's last output."""
    result = subprocess.run(list(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-5:]
        hint = f" (log: {log})" if log else ""
        raise ServiceError(f"{what} failed with exit code {result.returncode}{hint}: {' | '.join(output)}")
    return result


def run_ok(argv: Sequence[str], **kwargs) -> bool:
    """Whether `argv` exits 0 (its output is dropped)."""
    kwargs.setdefault("stdin", None if "input" in kwargs else subprocess.DEVNULL)
    return subprocess.run(list(argv), capture_output=True, **kwargs).returncode == 0


def spawn(argv: Sequence[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start a long-running process in a session of its own (it outlives this one); its PID."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True,
        )  # fmt: skip
    return process.pid


def wait_until(ready: Callable[[], bool], seconds: float, what: str, alive: Callable[[], bool] | None = None,
               log: Path | None = None) -> None:  # fmt: skip
    """Poll `ready` (every 0.05 s, growing to 0.5 s) until it is true; a ServiceError after `seconds`, or
    at once if `alive` turns false."""
    exited = lambda _: alive is not None and not alive()  # noqa: E731
    try:
        tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda done: not done),
            stop=tenacity.stop_after_delay(seconds) | exited,
            wait=tenacity.wait_exponential(multiplier=0.05, exp_base=1.5, max=0.5),
        )(ready)
    except tenacity.RetryError:
        hint = f"; log: {log}" + _tail(log) if log else ""
        if exited(None):
            raise ServiceError(f"{what}: the process exited{hint}") from None
        raise ServiceError(f"{what}: not ready after {seconds:.0f} s{hint}") from None


def _tail(log: Path | None, lines: int = 3) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return " | " + " | ".join(text) if text else ""


def read_pid(pid_file: Path) -> int | None:
    """The PID in a pid file (first line), if the file exists and the process is alive."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if is_alive(pid) else None


def is_alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie does not (and is collected when it is this process's child)."""
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE:
            return True
        with contextlib.suppress(psutil.TimeoutExpired):
            process.wait(0)
        return False
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def stop_pid(pid: int | None, seconds: float = 30, group: bool = False, signum: int = signal.SIGTERM) -> None:
    """Send `signum` to `pid` (its whole process group with `group`), wait for it to go, SIGKILL after
    `seconds`."""
    if pid is None or not is_alive(pid):
        return
    send = os.killpg if group else os.kill
    gone = lambda: not is_alive(pid)  # noqa: E731
    try:
        send(pid, signum)
        with contextlib.suppress(ServiceError):
            return wait_until(gone, seconds, f"process {pid}")
        send(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_until(gone, 10, f"process {pid} after SIGKILL")


def which(program: str, *extra_dirs: str) -> str:
    """The path of `program`, also looked for in `extra_dirs` (e.g. PostgreSQL's versioned bin)."""
    path = shutil.which(program, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", *extra_dirs]))
    if path is None:
        raise ServiceError(f"{program} not found: install it (see .ci/run for the Debian packages)")
    return path


class StateFile:
    """A small JSON file of a service directory (its ports), kept so a restart finds the same values."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def update(self, **values) -> dict:
        data = self.read() | values
        self.path.write_text(json.dumps(data, indent=2))
        return data


def saved_port(state: StateFile, key: str, wanted: int | None = None) -> int:
    """`wanted` if given; else the port saved under `key` when still free; else a new free port. Saved."""
    port = wanted or state.read().get(key)
    if port is None or (wanted is None and not port_is_free(port)):
        port = free_port()
    state.update(**{key: port})
    return port


@dataclass
class Service:
    """A daemon kept in a directory of its own: its PID in `<name>.pid` (written by the daemon or by
    `spawn`), its output in `<name>.log`, its state (its port) in `state.json`, so that a restart finds
    the same values. A subclass names itself, lists its other files in `files` (attribute: path in the
    directory) and writes `_start` (start, then wait until ready)."""

    directory: Path
    name: ClassVar[str] = "service"
    stop_signal: ClassVar[int] = signal.SIGTERM
    stop_seconds: ClassVar[float] = 30
    stop_group: ClassVar[bool] = False  # signal the whole process group (a server and its workers)
    files: ClassVar[dict[str, str]] = {}

    def __post_init__(self):
        self.directory = Path(self.directory).resolve()
        self.state = StateFile(self.directory / "state.json")
        self.pid_file = self.directory / f"{self.name}.pid"
        self.log = self.directory / f"{self.name}.log"
        for attribute, path in self.files.items():
            setattr(self, attribute, self.directory / path)

    @property
    def port(self) -> int | None:
        return self.state.read().get("port")

    @property
    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def start(self, *args, **kwargs) -> int:
        """Start the daemon unless it runs, and wait until it is ready; its PID."""
        if self.pid is None:
            self._start(*args, **kwargs)
        return self.pid

    def _start(self, *args, **kwargs) -> None:
        raise NotImplementedError

    def stop(self, seconds: float | None = None, signum: int | None = None) -> None:
        """Stop by PID (`signum`, by default `stop_signal`; SIGKILL after `seconds`, by default
        `stop_seconds`); a ServiceError if it still runs."""
        pid = self.pid
        stop_pid(pid, seconds or self.stop_seconds, group=self.stop_group, signum=signum or self.stop_signal)
        if self.pid is not None:
            raise ServiceError(f"{self.name} {pid} did not stop; log: {self.log}")
