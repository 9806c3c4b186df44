"""`mlflow server` (or `mlflow ui`) as a background service: started in a session of its own with its PID
in a file, healthy when `/health` answers, stopped by that PID (its process group: uvicorn and workers).
The one starter of the team server, the tests' servers and the browser tour's UI."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.services.process import Service, ServiceError, spawn, wait_until


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class MlflowServer(Service):
    host: str = "127.0.0.1"
    port: int = 5000
    backend_store_uri: str | None = None
    artifacts_destination: Path | None = None  # served by the server (`--serve-artifacts`) when given
    app_name: str | None = None
    command: str = "mlflow server --workers 1"  # or tracking.UI_COMMAND
    name = "mlflow-server"
    stop_group = True

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def _start(self, env: dict[str, str] | None = None, seconds: float = 120,
               ready: Callable[[], bool] | None = None) -> None:  # fmt: skip
        """Start the server and wait until `ready` (by default: `/health` answers)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", *self.command.split(), "--backend-store-uri", self.backend_store_uri,
                "--host", self.host, "--port", str(self.port)]  # fmt: skip
        if self.artifacts_destination:
            argv += ["--artifacts-destination", str(self.artifacts_destination), "--serve-artifacts"]
        if self.app_name:
            argv += ["--app-name", self.app_name]
        # No server-side job runner: it starts 8 more processes (~1.5 GB, seconds of CPU at start) for
        # GenAI features the harness does not use.
        defaults = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        environment = {**os.environ, **defaults, **(env or {})}
        environment.pop("MLFLOW_TRACKING_URI", None)
        self.pid_file.write_text(f"{spawn(argv, self.log, env=environment, cwd=self.directory)}\n")
        what = f"{' '.join(self.command.split()[:2])} on port {self.port}"  # mlflow server on port 5000
        try:
            wait_until(ready or (lambda: is_healthy(self.url)), seconds, what,
                       alive=lambda: self.pid is not None, log=self.log)  # fmt: skip
        except ServiceError:
            self.stop()
            raise

    def stop(self, seconds: float | None = None, signum: int | None = None) -> None:
        """Stop the process group (`signum` SIGKILL: a server gone with no goodbye); forget its PID."""
        super().stop(seconds, signum)
        self.pid_file.unlink(missing_ok=True)
