"""How far a sweep has got, shown by the process that launched it: jobs done of the total, how they
ended (finished, failed, pruned, killed: a pruned trial is the search working, not a failure), time
elapsed and an estimate of the time left.

Jobs may run in this process (the basic launcher) or in others (joblib, submitit), so a thread here
asks the store, through the gateway, how the sweep's job runs ended: the same count for every
launcher. On a terminal it is one tqdm bar, redrawn in place; otherwise one plain line per job as it
ends, naming the job.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

from harness.tracking import ENDED, outcome_counts

POLL_SECONDS = 2.0
POLL_COST_FACTOR = 10  # wait at least this many times as long as the last poll took
BAR_FORMAT = "{desc} {bar} {n_fmt}/{total_fmt} jobs done{postfix}, {elapsed} elapsed, ~{remaining} left"

JobEnds = dict[str, tuple[str, str]]  # run id -> (run name, outcome), as Tracker.job_outcomes gives


def progress_line(done: int, total: int, outcomes: Counter, elapsed: float, name: str, outcome: str) -> str:
    """`sweep 3/10 jobs done (2 finished, 1 failed), 00:42 elapsed, ~01:38 left: lr=0.1 failed`."""
    clock = tqdm.format_interval  # the bar's own `01:38`, `1:02:05`
    left = f"~{clock(elapsed / done * max(total - done, 0))} left" if done else "time left unknown"
    counts, spent = outcome_counts(outcomes), clock(elapsed)
    return f"sweep {done}/{total} jobs done ({counts}), {spent} elapsed, {left}: {name} {outcome}"


class SweepProgress:
    """Polls `job_ends()` in a thread until `stop()`."""

    def __init__(
        self,
        job_ends: Callable[[], JobEnds],
        total: int,
        stream: TextIO | None = None,
        poll_seconds: float = POLL_SECONDS,
    ):
        self.job_ends, self.total = job_ends, total
        self.stream = stream or sys.stderr
        self.on_terminal = self.stream.isatty()
        self.poll_seconds = poll_seconds
        self.started = time.monotonic()
        self.shown: set[str] = set()  # runs whose end was counted
        self.outcomes: Counter = Counter()
        self.bar: tqdm | None = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="sweep-progress", daemon=True)

    def start(self) -> SweepProgress:
        self.started = time.monotonic()
        if self.on_terminal:
            self.bar = tqdm(
                total=self.total, desc="sweep", file=self.stream, bar_format=BAR_FORMAT, dynamic_ncols=True
            )
        self.thread.start()
        return self

    def run(self) -> None:
        wait = self.poll_seconds
        while not self.stopped.wait(wait):
            started = time.monotonic()
            try:
                self.show(self.job_ends())
            except Exception:  # a store that does not answer now may answer at the next poll
                pass
            # a sweep of thousands of runs takes seconds to read: poll it no more than a tenth of the time
            wait = max(self.poll_seconds, POLL_COST_FACTOR * (time.monotonic() - started))

    def show(self, ends: JobEnds) -> None:
        with self.lock:
            for run_id, (name, outcome) in ends.items():
                if outcome not in ENDED or run_id in self.shown:
                    continue
                self.shown.add(run_id)
                self.outcomes[outcome] += 1
                if self.bar is None:
                    elapsed = time.monotonic() - self.started
                    line = progress_line(len(self.shown), self.total, self.outcomes, elapsed, name, outcome)
                    self.stream.write(line + "\n")
                    self.stream.flush()
            if self.bar is not None:
                self.bar.n = min(len(self.shown), self.total)
                self.bar.set_postfix_str(outcome_counts(self.outcomes), refresh=False)
                self.bar.refresh()

    def clear(self) -> None:
        """Take the bar off the terminal for a line to be written; the next poll draws it again."""
        with self.lock:
            if self.bar is not None:
                self.bar.clear()

    def stop(self) -> None:
        """Stop polling, count the last job ends (one more read of the store) and close the bar."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        try:
            self.show(self.job_ends())
        except Exception:
            pass
        if self.bar is not None:
            self.bar.close()
