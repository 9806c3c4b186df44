"""Which process owns something (an MLflow run, an Optuna trial), and whether that process is gone.

`host:pid:start time`: the start time keeps a reused pid from being taken for the owner. Only this
host's processes can be told gone; another host's may be running.
"""

from __future__ import annotations

import socket

import psutil


def process_tag(pid: int | None = None) -> str:
    """`host:pid:start time` of process `pid` (this one by default)."""
    process = psutil.Process(pid)
    return f"{socket.gethostname()}:{process.pid}:{process.create_time():.2f}"


def is_gone(tag: str) -> bool:
    """True if the process `tag` names ran on this host and is not running any more."""
    host, _, rest = tag.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" != started
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
