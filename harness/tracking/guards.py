"""Guards around writes to the store: a file lock between processes, Ctrl-C held over a batch."""

from __future__ import annotations

import fcntl
import signal
import threading
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_lock(path: Path):
    """Hold an exclusive `flock` on `path` (created, with its directory, if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # released when the file is closed, or its process ends
        yield


@contextmanager
def interrupts_held():
    """Hold Ctrl-C until the block is done, then act on it as the previous handler would (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):
        previous(signal.SIGINT, None)
