"""`mlflow server` as a background service: started in a session of its own with its PID in a file,
healthy when `/health` answers, stopped by that PID (SIGTERM to its process group: uvicorn and workers)."""

from __future__ import annotations

import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.services.process import ServiceError, read_pid, spawn, stop_pid, wait_until


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class MlflowServer:
    directory: Path
    host: str = "127.0.0.1"
    port: int = 5000

    def __post_init__(self):
        self.directory = Path(self.directory).resolve()
        self.pid_file = self.directory / "mlflow-server.pid"
        self.log = self.directory / "mlflow-server.log"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def start(self, backend_store_uri: str, artifacts_destination: Path, env: dict[str, str] | None = None,
              app_name: str | None = None, seconds: float = 120) -> int:  # fmt: skip
        """Start the server (if not running) and wait until `/health` answers; its PID."""
        if self.pid is not None:
            return self.pid
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
                "--artifacts-destination", str(artifacts_destination), "--serve-artifacts",
                "--host", self.host, "--port", str(self.port), "--workers", "1"]  # fmt: skip
        if app_name:
            argv += ["--app-name", app_name]
        # No server-side job runner: it starts 8 more processes (~1.5 GB, seconds of CPU at start) for
        # GenAI features the harness does not use.
        defaults = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        environment = {**os.environ, **defaults, **(env or {})}
        environment.pop("MLFLOW_TRACKING_URI", None)
        pid = spawn(argv, self.log, env=environment, cwd=self.directory)
        self.pid_file.write_text(f"{pid}\n")
        try:
            wait_until(lambda: is_healthy(self.url), seconds, f"mlflow server on port {self.port}",
                       alive=lambda: read_pid(self.pid_file) is not None, log=self.log)  # fmt: skip
        except ServiceError:
            self.stop()
            raise
        return pid

    def stop(self, seconds: float = 30) -> None:
        pid = self.pid
        stop_pid(pid, seconds, group=True)
        self.pid_file.unlink(missing_ok=True)
