"""One round-trip to a tracking server before anything runs: may we use it? A refusal is one line.

Without it, a missing or wrong password surfaces inside the first job as a 25-line MlflowException,
after the sweep has started (on SLURM: after every job has been queued and has failed on its own).
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException

from harness.tracking.gateway import open_store
from harness.tracking.redact import scrub_text

NOT_AUTHENTICATED = "not authenticated: set MLFLOW_TRACKING_USERNAME/PASSWORD"


class StoreAccessError(RuntimeError):
    """The tracking server refused us; the message is one line that says what to set."""


def check_access(tracking_uri: str) -> None:
    """Raise StoreAccessError if the server at `tracking_uri` refuses a read; no-op for local stores."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        open_store(tracking_uri).client.search_experiments(max_results=1)
    except MlflowException as error:
        raise StoreAccessError(refusal(error, tracking_uri)) from None


def refusal(error: MlflowException, tracking_uri: str) -> str:
    where = scrub_text(tracking_uri)
    status = error.get_http_status_code()
    if status == 401:
        return f"{NOT_AUTHENTICATED} ({where} answered 401)"
    if status == 403:
        return f"not allowed: the user in MLFLOW_TRACKING_USERNAME may not read {where} (403)"
    first_line = str(error.message).strip().splitlines()[0] if str(error.message).strip() else ""
    return f"cannot use the tracking server {where}: {scrub_text(first_line)[:300]}"
