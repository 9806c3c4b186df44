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


HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)  # Ctrl-C, SIGTERM, SLURM's time-limit warning


@contextmanager
def interrupts_held():
    """Hold Ctrl-C, SIGTERM and SIGUSR2, where Python handles them, until the block is done, then act
    on the first that came as its handler would (main thread): a batch is sent and counted, or neither."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    handled = {signum: handler for signum in HELD if callable(handler := signal.getsignal(signum))}
    previous = {signum: signal.signal(signum, lambda n, frame: caught.append(n)) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if caught:
        previous[caught[0]](caught[0], None)
