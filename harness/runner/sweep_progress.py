"""How far a sweep has got, shown by the process that launched it: jobs done of the total, failed so
far, time elapsed and an estimate of the time left.

Jobs may run in this process (the basic launcher) or in others (joblib, submitit), so a thread here
asks the store, through the gateway, how many of the sweep's job runs have ended: the same count for
every launcher. On a terminal a bar is redrawn in place; otherwise a plain line is written when a job
ends, at most every `LINE_SECONDS`, and at least every `QUIET_SECONDS`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from harness.tracking import FAILED, FINISHED, KILLED

POLL_SECONDS = 2.0
LINE_SECONDS = 10.0
QUIET_SECONDS = 60.0
BAR_WIDTH = 24


def clock_text(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def progress_text(total: int, statuses: Counter, elapsed: float, bar: bool) -> str:
    """`sweep [#####...] 3/10 jobs done, 1 failed, 00:42 elapsed, ~01:38 left`."""
    done = sum(statuses[status] for status in (FINISHED, FAILED, KILLED))
    failed = statuses[FAILED] + statuses[KILLED]
    left = f"~{clock_text(elapsed / done * (total - done))} left" if done else "time left unknown yet"
    drawn = ""
    if bar:
        filled = BAR_WIDTH * min(done, total) // max(total, 1)
        drawn = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] "
    return f"sweep {drawn}{done}/{total} jobs done, {failed} failed, {clock_text(elapsed)} elapsed, {left}"


class SweepProgress:
    """Polls `count_jobs()` (job runs by status) in a thread until `stop()`."""

    def __init__(
        self,
        count_jobs: Callable[[], Counter],
        total: int,
        stream: TextIO | None = None,
        poll_seconds: float = POLL_SECONDS,
    ):
        self.count_jobs, self.total = count_jobs, total
        self.stream = stream or sys.stderr
        self.on_terminal = self.stream.isatty()
        self.poll_seconds = poll_seconds
        self.started = time.monotonic()
        self.last_line = -float("inf")
        self.last_done = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="sweep-progress", daemon=True)

    def start(self) -> SweepProgress:
        self.started = time.monotonic()
        self.thread.start()
        return self

    def run(self) -> None:
        while not self.stopped.wait(self.poll_seconds):
            try:
                self.show(self.count_jobs())
            except Exception:  # a store that does not answer now may answer at the next poll
                continue

    def show(self, statuses: Counter, final: bool = False) -> None:
        now = time.monotonic()
        done = sum(statuses[status] for status in (FINISHED, FAILED, KILLED))
        text = progress_text(self.total, statuses, now - self.started, bar=self.on_terminal)
        if self.on_terminal:
            self.stream.write(f"\r\x1b[K{text}" + ("\n" if final else "\r"))
        else:
            changed = done != self.last_done and now - self.last_line >= LINE_SECONDS
            if not (final or changed or now - self.last_line >= QUIET_SECONDS):
                return
            self.stream.write(text + "\n")
            self.last_line, self.last_done = now, done
        self.stream.flush()

    def stop(self) -> None:
        """Stop polling and write the last count (one more read of the store)."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        try:
            self.show(self.count_jobs(), final=True)
        except Exception:
            pass
