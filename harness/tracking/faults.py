"""Store faults as one line each, saying what to do: an unreachable or refusing server, a read-only,
damaged or full sqlite store, a deleted experiment. Credentials never reach the line."""

from __future__ import annotations

import errno
import os

from harness.tracking.redact import scrub_text
from harness.tracking.store import sqlite_path

NOT_AUTHENTICATED = "not authenticated: set MLFLOW_TRACKING_USERNAME/PASSWORD"
REFUSED = (
    "not authenticated: the server {where} refused {user}'s credentials (401): the password changed? "
    "set MLFLOW_TRACKING_PASSWORD and rerun with resume=true"
)
OTHER_STORE = "or set MLFLOW_TRACKING_URI to another store"


class StoreAccessError(RuntimeError):
    """The store cannot be used; the message is one line that names it and says what to do."""


class DeletedExperiment(StoreAccessError):
    pass


class CredentialsRefused(StoreAccessError):
    """The server answered 401 or 403: the same request will be refused again."""


def store_name(tracking_uri: str) -> str:
    database = sqlite_path(tracking_uri)
    return str(database) if database is not None else scrub_text(tracking_uri)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def _http_status(error: BaseException) -> int | None:
    status = getattr(error, "get_http_status_code", lambda: None)()
    text = str(error)
    for code in (401, 403):
        if f"error code {code}" in text or f"status code {code}" in text:
            return code
    return status


def explain(error: BaseException, tracking_uri: str) -> str:
    """One line for a failure to use the store at `tracking_uri`."""
    if isinstance(error, StoreAccessError):
        return str(error)
    where = store_name(tracking_uri)
    chain = _chain(error)
    text = " ".join(str(e) for e in chain).lower()
    errnos = {getattr(e, "errno", None) for e in chain}
    status = _http_status(error)
    if status == 401:
        return not_authenticated(where)
    if status == 403:
        return f"not allowed: the user in MLFLOW_TRACKING_USERNAME may not use {where} (403)"
    if errno.ENOSPC in errnos or "database or disk is full" in text or "no space left" in text:
        return f"the disk holding the store {where} is full: free some space, {OTHER_STORE}"
    read_only = errnos & {errno.EROFS, errno.EACCES, errno.EPERM}
    if read_only or "readonly database" in text or "read-only" in text:
        return f"the store {where} is read-only: make it and its folder writable, {OTHER_STORE}"
    if "file is not a database" in text or "malformed" in text or "no such table" in text:
        return (
            f"the store {where} is damaged (not an MLflow database): move it aside to start a new one, "
            + OTHER_STORE
        )
    unreachable = ("connection refused", "max retries exceeded", "timed out", "resolve", "connection")
    if tracking_uri.startswith(("http://", "https://")) and any(word in text for word in unreachable):
        return f"cannot reach the tracking server {where}: start it (or wait for it), {OTHER_STORE}"
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return f"cannot use the store {where}: {scrub_text(first)[:300]}"


def not_authenticated(where: str) -> str:
    """401: no credentials were sent, or the server refused the ones in the environment."""
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user and os.environ.get("MLFLOW_TRACKING_PASSWORD"):
        return REFUSED.format(where=where, user=scrub_text(user))
    return f"{NOT_AUTHENTICATED} ({where} answered 401)"


def is_refusal(error: BaseException) -> bool:
    """A 401 or 403 from the server: the same request will be refused again, retrying cannot help."""
    return any(_http_status(e) in (401, 403) for e in _chain(error))


def deleted_experiment(name: str, experiment_id: str, tracking_uri: str) -> DeletedExperiment:
    return DeletedExperiment(
        f"experiment '{name}' is deleted in the store {store_name(tracking_uri)}: restore it with "
        f"`mlflow experiments restore --experiment-id {experiment_id}` or choose another experiment=NAME"
    )
