"""The gateway to MLflow: every write and read of the store goes through here (`open_store`).

Outside this package, import from `harness.tracking` only.

MLflow itself (~1.5 s to import, 3 s with its SQL store) loads only when a name that needs it is first
used (`open_store`, `Tracker`, `check_access`, ...): the names, statuses and faults below are plain
Python, so `--help`, the preflight and a refused command never import it.
"""

from harness.lazy_names import lazy_names
from harness.tracking.access import (
    DEFAULT_STORE_TIMEOUT,
    bound_http_requests,
    check_access,
    retrying_until,
    with_patience,
)
from harness.tracking.faults import (
    NOT_AUTHENTICATED,
    CredentialsRefused,
    StoreAccessError,
    explain,
    is_refusal,
)
from harness.tracking.guards import exclusive_lock
from harness.tracking.redact import has_credentials, scrub, scrub_text
from harness.tracking.store import (
    DEFAULT_EXPERIMENT,
    ENDED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    KILLED,
    MODEL_TRAINING,
    TERMINATED,
    UI_ADDRESS,
    UI_COMMAND,
    UI_READY,
    Tags,
    job_outcome,
    outcome_counts,
    resolve_tracking_uri,
    reused_in_filter,
    run_page_url,
    runs_table_url,
    sqlite_path,
    sweep_jobs_filter,
    where_to_look,
)

# name -> the module that defines it, imported on first use (PEP 562): these need MLflow
__getattr__ = lazy_names(
    __name__,
    {
        name: "harness.tracking.gateway"
        for name in ("DamagedArtifact", "LossStream", "Tracker", "open_store", "read_arrays")
    },
)


__all__ = [
    "CredentialsRefused",
    "is_refusal",
    "DamagedArtifact",
    "read_arrays",
    "DEFAULT_STORE_TIMEOUT",
    "NOT_AUTHENTICATED",
    "StoreAccessError",
    "TERMINATED",
    "bound_http_requests",
    "check_access",
    "with_patience",
    "retrying_until",
    "explain",
    "DEFAULT_EXPERIMENT",
    "UI_ADDRESS",
    "UI_COMMAND",
    "UI_READY",
    "ENDED",
    "job_outcome",
    "outcome_counts",
    "FAILED",
    "FINISHED",
    "INTERRUPTED",
    "KILLED",
    "MODEL_TRAINING",
    "LossStream",
    "StoreAccessError",
    "exclusive_lock",
    "Tags",
    "Tracker",
    "check_access",
    "has_credentials",
    "open_store",
    "resolve_tracking_uri",
    "run_page_url",
    "runs_table_url",
    "scrub",
    "scrub_text",
    "sqlite_path",
    "reused_in_filter",
    "sweep_jobs_filter",
    "where_to_look",
]
