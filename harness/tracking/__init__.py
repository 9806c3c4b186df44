"""The gateway to MLflow: every write and read of the store goes through here (`open_store`).

Outside this package, import from `harness.tracking` only.
"""

from harness.tracking.access import DEFAULT_STORE_TIMEOUT, bound_http_requests, check_access, retrying_until
from harness.tracking.faults import (
    NOT_AUTHENTICATED,
    CredentialsRefused,
    StoreAccessError,
    explain,
    is_refusal,
)
from harness.tracking.gateway import (
    INTERRUPTED,
    TERMINATED,
    DamagedArtifact,
    LossStream,
    Tracker,
    open_store,
    read_arrays,
)
from harness.tracking.guards import exclusive_lock
from harness.tracking.redact import has_credentials, scrub, scrub_text
from harness.tracking.store import (
    DEFAULT_EXPERIMENT,
    ENDED,
    FAILED,
    FINISHED,
    KILLED,
    MODEL_TRAINING,
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
