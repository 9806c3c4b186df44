"""Jobs that meet at a batch point: each job runs in a thread of its own, one thread at a time.

The launching thread (the coordinator) starts a job's thread and waits until the job either ends or
reaches `batch_point`, where it parks; then it starts the next. When every job has ended or parked,
it computes each group of parked jobs (same `run_batch`, same `key`) with one call, and hands each
job its result (or the error to raise), one job at a time again. It does so as soon as `max_batch`
jobs are parked, then starts the next ones: a job's bookkeeping (its MLflow run, RUNNING from the job's
start) never runs far ahead of its training, however many jobs the process has. A job is thus ordinary
sequential code (Hydra's `run_job`, the task function's own try/finally) that pauses once for its result.

Only one thread runs at any moment, so process-wide state (Hydra's config singleton, logging, the
current directory) is set for the job whose turn it is (`Coordinator.on_turn`). Signals reach the
coordinator only: Ctrl-C (or any BaseException) while a batch trains is handed to every job still
waiting, which ends its own run as it would had the signal reached it; the jobs not started yet never
start, and the coordinator raises it once every job has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

VECTORIZABLE = "__vectorizable__"

_current = threading.local()  # the Seat of the job running in this thread, if any


def vectorizable(task_function):
    """Mark a task function whose jobs may meet at `batch_point` (the launcher runs them in threads)."""
    setattr(task_function, VECTORIZABLE, True)
    return task_function


WORKER_SETUP = "_worker_setup"


def on_worker_start(setup: Callable[[], None]):
    """Mark a task function with `setup()`, which the launcher calls first in each worker process's
    main thread (where signal handlers can be set: the jobs themselves run in other threads)."""

    def mark(task_function):
        setattr(task_function, WORKER_SETUP, setup)
        return task_function

    return mark


def run_worker_setup(task_function) -> None:
    setup = getattr(task_function, WORKER_SETUP, None)
    if setup is not None:
        setup()


def is_vectorizable(task_function) -> bool:
    return bool(getattr(task_function, VECTORIZABLE, False))


def batch_point(key: Any, item: Any, run_batch: Callable[[list], Sequence]) -> Any:
    """`run_batch([item])[0]`, computed with the other jobs of the same `key` when there are any.

    `run_batch(items)` must return one result per item, in order, each equal to what it returns for
    that item alone; `key` (hashable) says which items it may compute together."""
    seat = getattr(_current, "seat", None)
    if seat is None:
        return run_batch([item])[0]
    return seat.park(key, item, run_batch)


class _Raise:
    def __init__(self, error: BaseException):
        self.error = error


class Seat:
    """One job's thread and the two events that pass the turn between it and the coordinator."""

    def __init__(self, index: int):
        self.index = index
        self.parked = self.done = False
        self.key: Any = None
        self.item: Any = None
        self.run_batch: Callable | None = None
        self.outcome: Any = None
        self.returned: Any = None
        self.error: BaseException | None = None
        self._turn = threading.Event()  # set by the coordinator: the job may go on
        self._back = threading.Event()  # set by the job: it parked or ended

    def _run(self, call: Callable[[], Any]) -> None:
        _current.seat = self
        try:
            self.returned = call()
        except BaseException as error:  # handed to the coordinator, which decides
            self.error = error
        finally:
            self.done = True
            self._back.set()

    def park(self, key: Any, item: Any, run_batch: Callable) -> Any:
        self.key, self.item, self.run_batch, self.parked = key, item, run_batch, True
        self._turn.clear()
        self._back.set()
        self._turn.wait()
        self.parked = False
        outcome, self.outcome, self.item = self.outcome, None, None
        if isinstance(outcome, _Raise):
            raise outcome.error
        return outcome

    def start(self, call: Callable[[], Any]) -> None:
        self._back.clear()
        threading.Thread(target=self._run, args=(call,), name=f"job-{self.index}", daemon=True).start()

    def resume(self, outcome: Any) -> None:
        self.outcome = outcome
        self._back.clear()
        self._turn.set()


class Coordinator:
    """Runs `calls` (each one job, returning its result) as seated jobs; see the module's docstring."""

    def __init__(
        self,
        max_batch: int,
        on_turn: Callable[[int], None] = lambda index: None,
        on_end: Callable[[int], None] = lambda index: None,
    ):
        self.max_batch = max_batch
        self.on_turn = on_turn  # called before a parked job `index` resumes
        self.on_end = on_end  # called once job `index` has ended
        self.stop: BaseException | None = None

    def _wait(self, seat: Seat) -> None:
        """Until the seat's job parks or ends. A first interrupt is kept (`self.stop`) and the job,
        which is only doing bookkeeping, is waited for; a second one gives up waiting."""
        while True:
            try:
                seat._back.wait()
                return
            except BaseException as error:
                if self.stop is not None:
                    raise
                self.stop = error

    def run(self, calls: Sequence[Callable[[], Any]]) -> list[Any]:
        seats: list[Seat] = []
        parked: list[Seat] = []
        for index, call in enumerate(calls):
            if self.stop is not None:
                break
            seat = Seat(index)
            seats.append(seat)
            seat.start(call)
            self._wait(seat)
            if not seat.parked:
                self._ended(seat)
                continue
            parked.append(seat)
            if len(parked) >= self.max_batch:
                self._compute_all(parked)
                parked = []
        self._compute_all(parked)
        errors = [seat.error for seat in seats if seat.error is not None]
        if self.stop is not None:
            raise self.stop
        if errors:  # a job raised what its own code did not catch (Hydra's run_job keeps Exceptions)
            raise errors[0]
        return [seat.returned for seat in seats]

    def _compute_all(self, parked: list[Seat]) -> None:
        """Every parked job's batch, until none is parked (a job may park again after its result)."""
        while parked := [seat for seat in parked if seat.parked]:
            for group in self._groups(parked):
                self._compute(group)

    def _ended(self, seat: Seat) -> None:
        if seat.done:
            self.on_end(seat.index)

    def _groups(self, parked: list[Seat]) -> list[list[Seat]]:
        groups: dict[tuple, list[Seat]] = {}
        for seat in parked:
            groups.setdefault((id(seat.run_batch), seat.key), []).append(seat)
        return [
            seats[start : start + self.max_batch]
            for seats in groups.values()
            for start in range(0, len(seats), self.max_batch)
        ]

    def _compute(self, group: list[Seat]) -> None:
        """One batch, then each of its jobs resumed in turn with its result (or the error to raise)."""
        if self.stop is not None:
            outcomes: list[Any] = [_Raise(self.stop)] * len(group)
        else:
            try:
                outcomes = list(group[0].run_batch([seat.item for seat in group]))
                if len(outcomes) != len(group):
                    raise RuntimeError(f"run_batch returned {len(outcomes)} results for {len(group)} items")
            except Exception as error:  # each job raises it, as it would have alone
                outcomes = [_Raise(error)] * len(group)
            except BaseException as error:  # Ctrl-C, SIGTERM: every waiting job ends
                self.stop = error
                outcomes = [_Raise(error)] * len(group)
        for seat, outcome in zip(group, outcomes, strict=True):
            self.on_turn(seat.index)
            seat.resume(outcome)
            self._wait(seat)
            self._ended(seat)
