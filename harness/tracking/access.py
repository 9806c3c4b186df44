"""One round-trip to the store before anything runs, with a short bounded wait: may we use it?

Without it, a tracking server that is not there makes MLflow retry every call for minutes (7 retries
with backoff, 120 s timeouts), and a refused password surfaces inside the first job. A refusal is
one line (harness.tracking.faults).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager

from harness.collector import imports_frozen
from harness.tracking.faults import CredentialsRefused, StoreAccessError, explain, is_refusal

log = logging.getLogger("harness")

DEFAULT_STORE_TIMEOUT = 10.0  # seconds to reach the store before anything runs
RETRY_SECONDS = 0.5  # between tries of a server that is not there (yet)
PATIENCE_RETRY_SECONDS = 3.0  # between tries of a store that went away during a sweep
# Each HTTP call of a running sweep: a server that is gone is retried ~10 s, not ~4 minutes (MLflow's
# defaults); a job then keeps its data in memory and tries again (harness.job.job, `store_patience`).
SWEEP_HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def bound_http_requests() -> None:
    """Bound MLflow's HTTP retries for this process and the jobs it starts (a user's settings win)."""
    for variable, value in SWEEP_HTTP_SETTINGS.items():
        os.environ.setdefault(variable, value)


@contextmanager
def _one_try(seconds: float):
    """MLflow's HTTP calls inside the block: no retry, at most `seconds` each."""
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, int(seconds))),
    }
    saved = {variable: os.environ.get(variable) for variable in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


_DB_LOGGER = "mlflow.store.db.utils"  # logs every failed SQL statement with its traceback (ERROR)


@contextmanager
def _quiet(name: str):
    """The logger `name` silent for the block: the failure is explained in one line instead."""
    logger = logging.getLogger(name)
    previous, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = previous


def retrying_until(
    seconds: float, every: float, worth_retrying: Callable[[Exception], bool], before_sleep=None
):
    """Tenacity's `Retrying`: an exception `worth_retrying` is tried again every `every` seconds (the last
    wait cut to what is left) until `seconds` have passed from now, then raised as it is; any other
    exception (and Ctrl-C) at once. `before_sleep(state)` is called before each wait."""
    import tenacity  # ~0.1 s (asyncio): paid by the first retry loop, not by every import of the gateway

    deadline = time.monotonic() + seconds
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, Exception) and worth_retrying(e)),
        stop=lambda _: time.monotonic() >= deadline,
        wait=lambda _: min(every, max(0.0, deadline - time.monotonic())),
        before_sleep=before_sleep,
        reraise=True,
    )


@imports_frozen()  # in a command, MLflow and its SQL store load here first: see harness.collector
def check_access(
    tracking_uri: str, timeout: float = DEFAULT_STORE_TIMEOUT, experiment: str | None = None
) -> str | None:
    """Reach the store within `timeout` seconds, or raise StoreAccessError (one line).

    With `experiment`, also make sure it exists (created if missing) and is not deleted; its id.
    """
    from harness.tracking.gateway import open_store  # MLflow: only when a store is to be reached

    deadline = time.monotonic() + timeout

    def reach() -> str | None:
        with _one_try(deadline - time.monotonic()), _quiet(_DB_LOGGER):
            tracker = open_store(tracking_uri)
            tracker.client.search_experiments(max_results=1)
            if experiment is None:
                return None
            tracker.check_artifact_root(experiment)
            return tracker.experiment_id(experiment)

    def unreachable(error: Exception) -> bool:  # only a server not there (yet) may answer a moment later
        if isinstance(error, StoreAccessError):
            return False
        return explain(error, tracking_uri).startswith("cannot reach")

    try:
        return retrying_until(deadline - time.monotonic(), RETRY_SECONDS, unreachable)(reach)
    except StoreAccessError:  # a deleted experiment, an artifact folder that cannot be written
        raise
    except Exception as error:  # MLflow, SQLAlchemy, OSError: each becomes one line
        line = explain(error, tracking_uri)
        waited = f" (waited {timeout:g} s: store_timeout=SECONDS)" if line.startswith("cannot reach") else ""
        raise StoreAccessError(line + waited) from None


def with_patience(action, patience: float, tracking_uri: str):
    """`action()`, tried again every few seconds for `patience` seconds while the store fails it:
    a tracking server restarting during a sweep loses none of a job's data."""

    def warn(tried) -> None:  # tenacity's state of the try that failed
        line = explain(tried.outcome.exception(), tracking_uri)
        log.warning("%s; trying again for up to %.0f s", line, patience - tried.seconds_since_start)

    try:  # 401, 403 are not asked again: the server would say the same
        return retrying_until(patience, PATIENCE_RETRY_SECONDS, lambda error: not is_refusal(error), warn)(
            action
        )
    except Exception as error:
        if is_refusal(error):
            raise CredentialsRefused(explain(error, tracking_uri)) from error
        raise StoreAccessError(explain(error, tracking_uri)) from error  # one line, on the run if it can
