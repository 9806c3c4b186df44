"""SIGTERM handled like Ctrl-C, and no worker process left behind.

SIGTERM is what `timeout`, SLURM's time limit, `scancel` and a container stop send. In the launching
process and in every job it raises `Terminated` (a KeyboardInterrupt), so that the job running ends
its run KILLED with its step and the sweep ends KILLED, as on Ctrl-C. On the way out the launching
process stops its child processes (joblib's loky workers, submitit's): SIGTERM, a grace period for
them to end their own runs, then SIGKILL; `kill -9` on a worker cannot be caught (harness.sweep.stale).
A job under SLURM (`SLURM_JOB_ID` set) also stops on submitit's warning signal ahead of its time
limit, and stops once: SLURM may send SIGTERM twice (harness.job.slurm_stops says why it came).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import psutil

from harness.job import slurm_stops

GRACE_SECONDS = 15.0  # for child processes to end their runs after SIGTERM
PARENT_POLL_SECONDS = 1.0  # how often a worker looks whether its launcher is still there


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (on SLURM, or the warning signal: `signum`); handled as Ctrl-C is."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.signum = signum


_terminated = threading.Event()


def _raise_terminated(signum, frame):
    _terminated.set()
    raise Terminated()


def _raise_terminated_once(signum, frame):
    if not _terminated.is_set():  # a later signal (SLURM's second SIGTERM) must not cut the run's ending
        _terminated.set()
        raise Terminated(signum)


_SLURM_STOPS = (signal.SIGTERM, slurm_stops.warning_signal())


def stopped_by_slurm(error: BaseException | None = None) -> bool:
    """Whether this process is a SLURM job stopping on SLURM's signals (raise_on_sigterm set them),
    and, given `error`, whether it is such a stop."""
    installed = signal.getsignal(signal.SIGTERM) is _raise_terminated_once
    return installed and (error is None or isinstance(error, Terminated))


def refuse_if_terminated() -> None:
    """A worker that got SIGTERM starts no other job (its pool may hand it the next one meanwhile)."""
    if _terminated.is_set():
        raise Terminated()


def _stop_children_then_raise(signum, frame):
    # Before raising: joblib answers an interrupt by killing its workers at once (SIGKILL), which
    # would leave their runs without their last steps.
    _terminated.set()
    with no_interruptions():
        stop_children(terminated=True)
    raise Terminated()


def raise_on_sigterm(launcher: bool = False) -> None:
    """From now on SIGTERM raises Terminated in this process's main thread; in the `launcher`, after
    its child processes were stopped. A handler already set (the launcher's) is kept, but for
    submitit's in a SLURM job: there SIGTERM and submitit's warning signal raise Terminated, once."""
    if threading.current_thread() is not threading.main_thread():
        return
    if launcher:
        signal.signal(signal.SIGTERM, _stop_children_then_raise)
    elif slurm_stops.job_id() and signal.getsignal(signal.SIGTERM) is not _stop_children_then_raise:
        slurm_stops.note_end_time()
        for signum in _SLURM_STOPS:
            signal.signal(signum, _raise_terminated_once)
    elif signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_terminated)
        watch_parent()  # a worker (joblib's loky, submitit's local) whose launcher is gone stops too


def watch_parent(poll: float = PARENT_POLL_SECONDS, grace: float = GRACE_SECONDS) -> None:
    """When the parent of this process dies (`kill -9` of the launcher: the worker is re-parented),
    SIGTERM this one (its running job ends its run KILLED, as on SIGTERM), and exit after `grace`
    seconds if it is still there (an idle loky worker waits for tasks for minutes)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


@contextlib.contextmanager
def no_interruptions():
    """Ctrl-C and SIGTERM ignored for the block: a stopping job ends its run whole."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stops = {signal.SIGINT, signal.SIGTERM} | ({*_SLURM_STOPS} if stopped_by_slurm() else set())
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in stops}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


LOKY_TRACKER = "resource_tracker import main"  # in the command line of loky's resource tracker


def _is_tracker(process: psutil.Process) -> bool:
    """loky's resource tracker ignores SIGTERM by design and exits by itself once the processes that
    share its pipe are gone; killed before them, it is relaunched and prints a KeyError traceback for
    each semaphore the workers then unregister."""
    try:
        return LOKY_TRACKER in " ".join(process.cmdline())
    except psutil.Error:
        return False


def stop_children(terminated: bool, grace: float = GRACE_SECONDS) -> int:
    """Stop every process this one started: SIGTERM first if `terminated` (on Ctrl-C the terminal
    signalled them already), `grace` seconds to end, then SIGKILL. How many were still alive."""
    try:
        children = [child for child in psutil.Process().children(recursive=True) if not _is_tracker(child)]
    except psutil.Error:
        return 0
    if not children:
        return 0
    if terminated:
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(children)
