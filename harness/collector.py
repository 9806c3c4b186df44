"""A command's start-up without the cyclic garbage collector walking what MLflow's import makes.

Importing MLflow and its SQL store makes ~280,000 tracked objects that live until the process ends.
The collector runs many times during those imports and walks them each time, and every later full
collection (and the interpreter's exit) walks them again. Measured on this machine (2 cores):
`import mlflow` and its SQL store 4.0 s wall, 2.8 s with the collector off while they import and all
they made frozen after (`gc.freeze`: later collections, the exit's included, skip it); the 256-run
report in a fresh process 12.7 s -> 8.8 s.

Only commands do this: their entry points call `as_command()`. A library caller's (or a test's)
collector is left alone: freezing would keep its not-yet-collected garbage for good.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_command = False


def as_command() -> None:
    """This process is `python -m harness.run` or `python -m harness.report`: it may freeze its imports."""
    global _command
    _command = True


@contextlib.contextmanager
def imports_frozen() -> Iterator[None]:
    """Run the block (MLflow's imports, the store's first opening) without collections, then freeze
    every object alive: what the imports made stays out of every later collection. Garbage made after
    is collected as usual. Outside a command, or with the collector already off, it only runs the block."""
    if not _command or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
