"""The gateway: the one place that talks to MLflow, writes (experiments, sweep and job runs, metrics,
artifacts, statuses) and reads (runs, curves, artifacts) alike.

Everything goes through one `MlflowClient` per store and process (`open_store`), with an explicit
tracking URI (no fluent "active run", no `MLFLOW_RUN_ID`), in batches: one `log_batch` per 1000
values. Every param and tag is scrubbed of credentials here, on its way out.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import io
import logging
import os
import tempfile
import time
import weakref
import zipfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow.artifacts
import numpy as np
from mlflow.entities import Metric, Param, Run, RunTag, ViewType
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_USER

from harness.tracking.faults import StoreAccessError, deleted_experiment, explain
from harness.tracking.guards import exclusive_lock, interrupts_held
from harness.tracking.redact import has_credentials, scrub
from harness.tracking.store import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    KILLED,
    MODEL_TRAINING,
    Tags,
    job_outcome,
    reused_in_filter,
    sqlite_path,
    sweep_jobs_filter,
)

log = logging.getLogger("harness")

BATCH_LIMIT = 1000  # metrics per log_batch request (MLflow's limit)
PARAM_BATCH_LIMIT = 100  # params, and tags, per log_batch request
READ_THREADS = 8  # artifacts fetched side by side from a server
FLUSH_SECONDS = 2.0  # a running job's loss curve reaches the store at least this often

# failure_reason of a job run its own process could not end, by the status the sweep ends with
STOPPED_FROM_OUTSIDE = {KILLED: INTERRUPTED, FAILED: "its process ended before the job could end the run"}


class DamagedArtifact(Exception):
    """An artifact that is there but cannot be read; the message says why, in a few words."""


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the `.npz` file `path`; DamagedArtifact if it is truncated, empty or not a `.npz`."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError, AttributeError) as error:
        why = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DamagedArtifact(f"{path.name} cannot be read ({why})") from error


def _now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Tracker:
    def __init__(self, tracking_uri: str):
        self.tracking_uri = self.uri = tracking_uri
        if has_credentials(tracking_uri):  # MLflow would print each run's link, credentials and all
            os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
        self.tracking_uri = tracking_uri
        if (database := sqlite_path(tracking_uri)) is None:
            self.client = MlflowClient(tracking_uri=tracking_uri)
            return
        # MLflow creates a fresh sqlite store's tables (alembic migrations) the first time it opens it
        # (MlflowClient() does), with no guard: two processes doing so at once corrupt the store for
        # good ("table ... already exists", "duplicate column name"). Open it under a lock on a
        # sibling file, so that one process creates it whole and the others find it made.
        with exclusive_lock(Path(f"{database}.lock")):
            self.client = MlflowClient(tracking_uri=tracking_uri)
            self.client.search_experiments(max_results=1)  # opens it, should MlflowClient() ever not

    def check_artifact_root(self, experiment: str) -> None:
        """Write and remove a probe file in the artifact folder of `experiment` when it is local: its
        `artifact_location`, or for an experiment not made yet in a sqlite store, `./mlruns` (MLflow's
        default root, beside which it would be made). StoreAccessError naming that folder if it cannot
        be written. A server's artifacts are the server's: they are not probed."""
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            parsed = urlparse(found.artifact_location)
            if parsed.scheme not in ("", "file"):
                return
            root = Path(parsed.path if parsed.scheme else found.artifact_location).resolve()
        elif sqlite_path(self.uri) is not None:
            root = Path("mlruns").resolve()
        else:
            return
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=root, prefix=".harness-probe-"):
                pass
        except OSError as error:
            raise StoreAccessError(
                f"the artifact folder {root} of experiment '{experiment}' cannot be written "
                f"({error.strerror or error}): make it writable, or start from a folder where "
                "./mlruns can be written"
            ) from None

    def experiment_id(self, name: str) -> str:
        """The experiment's id, created if missing, tagged as model training (so that the UI opens on
        runs, not on MLflow 3's GenAI pages); StoreAccessError if it is deleted."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                raise deleted_experiment(name, experiment.experiment_id, self.tracking_uri)
            if Tags.EXPERIMENT_KIND not in experiment.tags:
                self.client.set_experiment_tag(experiment.experiment_id, Tags.EXPERIMENT_KIND, MODEL_TRAINING)
            return experiment.experiment_id
        try:
            return self.client.create_experiment(name, tags={Tags.EXPERIMENT_KIND: MODEL_TRAINING})
        except MlflowException:  # created meanwhile by another process; any other error stands
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def start_run(
        self, experiment_id: str, name: str, tags: dict[str, str], params: dict[str, Any] | None = None
    ) -> str:
        """A new RUNNING run; `tags` may hold `mlflow.parentRunId` to nest it. Its user is the tracking
        username when there is one (a team server then says who made it), else the login name."""
        user = os.environ.get("MLFLOW_TRACKING_USERNAME") or getpass.getuser()
        run = self.client.create_run(experiment_id, run_name=name, tags=scrub({MLFLOW_USER: user, **tags}))
        run_id = run.info.run_id
        entries = [Param(key, str(value)) for key, value in scrub(params or {}).items()]
        for chunk in _chunks(entries, PARAM_BATCH_LIMIT):
            self.client.log_batch(run_id, params=chunk, synchronous=True)
        return run_id

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        entries = [Param(key, str(value)) for key, value in scrub(params).items()]
        for chunk in _chunks(entries, PARAM_BATCH_LIMIT):
            self.client.log_batch(run_id, params=chunk, synchronous=True)

    def log_metrics(self, run_id: str, values: dict[str, float], step: int = 0) -> None:
        now = _now_ms()
        metrics = [Metric(key, float(value), now, step) for key, value in values.items()]
        self.client.log_batch(run_id, metrics=metrics, synchronous=True)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        entries = [RunTag(key, str(value)) for key, value in scrub(tags).items()]
        self.client.log_batch(run_id, tags=entries, synchronous=True)

    def describe(self, run_id: str, note: str) -> None:
        """The run's description in the UI (Markdown)."""
        self.set_tags(run_id, {Tags.NOTE: note})

    def log_pyfunc_model(
        self, run_id: str, registered_name: str | None, **model: Any
    ) -> tuple[str, str | None]:
        """Log an MLflow pyfunc model (`mlflow.pyfunc.save_model`'s arguments: python_model, artifacts,
        signature, ...) under the run's `model`, registered as a new version of `registered_name` unless
        None; its `runs:/` URI and the version."""
        import mlflow
        from mlflow.models import Model

        from harness.upstream import fluent_tracking_uri

        # Model.log with no active run would file the logged model under experiment 0 ("Default"): make
        # it here, in the run's experiment, so that the experiment's Models page, the run's "Logged
        # models" and the runs table's Models column show it, and the registered version links to it.
        run = self.client.get_run(run_id)
        logged = self.client.create_logged_model(
            experiment_id=run.info.experiment_id, name="model", source_run_id=run_id,
            params=dict(run.data.params),
        )  # fmt: skip
        printed = io.StringIO()  # MLflow prints "Successfully registered model ..." itself: to the log
        try:
            # Model.log reads the fluent tracking URI: this store's for the call, then what was there
            with fluent_tracking_uri(self.tracking_uri), contextlib.redirect_stderr(printed):
                info = Model.log(
                    artifact_path=None, name="model", flavor=mlflow.pyfunc, run_id=run_id,
                    model_id=logged.model_id, registered_model_name=registered_name, **model,
                )  # fmt: skip
        finally:
            for line in printed.getvalue().splitlines():
                logging.getLogger("mlflow").info(line)
        version = str(info.registered_model_version) if info.registered_model_version is not None else None
        return f"runs:/{run_id}/model", version

    def log_artifacts(self, run_id: str, directory: Path) -> None:
        self.client.log_artifacts(run_id, str(directory))

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path=artifact_path)

    def replace_artifacts(self, run_id: str, paths: list[Path], artifact_path: str) -> None:
        """The run's folder `artifact_path` holds `paths` and nothing else (an earlier report's figure
        that this one does not draw is removed)."""
        repository = get_artifact_repository(self.client.get_run(run_id).info.artifact_uri)
        if self.client.list_artifacts(run_id, artifact_path):
            repository.delete_artifacts(artifact_path)
        for path in paths:
            self.client.log_artifact(run_id, str(path), artifact_path=artifact_path)

    # Reads: the report and the notebooks see the store only through these.

    def find_experiment_id(self, name: str) -> str | None:
        """The experiment's id, or None when the store has no such experiment (nothing is created)."""
        experiment = self.client.get_experiment_by_name(name)
        return experiment.experiment_id if experiment is not None else None

    def experiment_names(self) -> list[str]:
        return [experiment.name for experiment in self.client.search_experiments()]

    def search_runs(
        self, experiment_id: str, filter_string: str, newest_first: bool = False, at_most: int | None = None
    ) -> Iterator[Run]:
        """Every run matching the filter (the first `at_most` of them), page after page."""
        order_by = ["attributes.start_time DESC"] if newest_first else None
        size = min(1000, at_most or 1000)
        page_token, left = None, at_most
        while True:
            page = self.client.search_runs(
                [experiment_id], filter_string, order_by=order_by, max_results=size, page_token=page_token
            )
            yield from page[:left]
            page_token = page.token
            if left is not None:
                left -= len(page)
            if not page_token or (left is not None and left <= 0):
                return

    def count_sweep_jobs(self, experiment_id: str, sweep_id: str, at_most: int) -> int:
        """How many job runs the sweep has (as `sweep_job_runs`), counting no further than `at_most`."""
        own = len(self.client.search_runs([experiment_id], sweep_jobs_filter(sweep_id), max_results=at_most))
        if own >= at_most:
            return own
        reused = self.client.search_runs(
            [experiment_id], reused_in_filter(sweep_id), max_results=at_most - own
        )
        return own + len(reused)

    def run(self, run_id: str) -> Run:
        return self.client.get_run(run_id)

    def find_run(self, run_id: str) -> Run | None:
        """The run `run_id`, or None when the store has none by that id (or only a deleted one)."""
        try:
            run = self.client.get_run(run_id)
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return run if run.info.lifecycle_stage == "active" else None

    def runs_in_any_experiment(self, filter_string: str) -> list[Run]:
        """Every active run of every experiment matching the filter, oldest first."""
        experiments = [experiment.experiment_id for experiment in self.client.search_experiments()]
        runs, page_token = [], None
        while experiments:
            page = self.client.search_runs(
                experiments, filter_string, order_by=["attributes.start_time ASC"],
                max_results=1000, page_token=page_token,
            )  # fmt: skip
            runs += page
            page_token = page.token
            if not page_token:
                break
        return runs

    def artifact_names(self, artifact_root: str) -> set[str]:
        """The paths at the top of a run's artifacts, by its artifact root (`Run.info.artifact_uri`)."""
        return {info.path for info in get_artifact_repository(artifact_root).list_artifacts()}

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self.client.get_metric_history(run_id, key)

    def download_artifact(self, run_id: str, path: str, into: Path) -> Path:
        return Path(self.client.download_artifacts(run_id, path, str(into)))

    def download_from(self, artifact_root: str, path: str, into: Path) -> Path:
        """The artifact `path` under a run's artifact root (`Run.info.artifact_uri`): no run looked up."""
        uri = f"{artifact_root.rstrip('/')}/{path}"
        return Path(
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into), tracking_uri=self.uri)
        )

    def read_npz(
        self, artifact_uris: dict[str, str], path: str, damaged: dict[str, str] | None = None
    ) -> dict[str, dict[str, np.ndarray]]:
        """The arrays of the `.npz` artifact `path` of many runs at once, by run id; a run without it
        is left out, and so is a run whose file is there but cannot be read (truncated, empty): that
        one goes into `damaged` (run id: why). `artifact_uris` maps run ids to their runs' artifact
        roots (`Run.info.artifact_uri`), so that no run is looked up again; the files are fetched side by
        side from a server."""

        def read(item: tuple[str, str]) -> tuple[str, dict[str, np.ndarray] | str | None]:
            run_id, root = item
            with tempfile.TemporaryDirectory(prefix="harness-read-") as scratch:
                try:
                    local = mlflow.artifacts.download_artifacts(
                        artifact_uri=f"{root.rstrip('/')}/{path}", dst_path=scratch, tracking_uri=self.uri
                    )
                except (MlflowException, OSError, ValueError):
                    return run_id, None
                try:
                    return run_id, read_arrays(Path(local))
                except DamagedArtifact as error:
                    return run_id, str(error)

        items = list(artifact_uris.items())
        local = all(urlparse(root).scheme in ("", "file") for _, root in items)
        with ThreadPoolExecutor(max_workers=1 if local else READ_THREADS) as pool:
            found = dict(pool.map(read, items))
        if damaged is not None:
            damaged |= {run_id: why for run_id, why in found.items() if isinstance(why, str)}
        return {run_id: arrays for run_id, arrays in found.items() if isinstance(arrays, dict)}

    def end(self, run_id: str, status: str, tags: dict[str, Any] | None = None) -> None:
        if tags:
            self.set_tags(run_id, tags)
        self.client.set_terminated(run_id, status=status)

    def find_finished(self, experiment_id: str, config_hash: str, code_version: str) -> str | None:
        """The id of a FINISHED job run with this config hash and code version, if the experiment has one."""
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=f"tags.{Tags.CONFIG_HASH} = '{config_hash}' and attributes.status = '{FINISHED}'"
            f" and tags.{Tags.CODE_VERSION} = '{code_version}' and tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'",
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def find_running(self, experiment_id: str, config_hash: str, code_version: str) -> list[Run]:
        """The RUNNING job runs with this config hash and code version (some process trains them)."""
        return self.client.search_runs(
            [experiment_id],
            filter_string=f"tags.{Tags.CONFIG_HASH} = '{config_hash}' and attributes.status = 'RUNNING'"
            f" and tags.{Tags.CODE_VERSION} = '{code_version}' and tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'",
        )

    def reuse(self, run_id: str, sweep_id: str, parent_run_id: str) -> None:
        """Count the FINISHED run `run_id` in sweep `sweep_id` too (a resumed sweep skipped its job)."""
        self.set_tags(run_id, {f"{Tags.REUSED_IN}.{sweep_id}": parent_run_id})

    def sweep_job_runs(self, experiment_id: str, sweep_id: str) -> list[Run]:
        """The sweep's job runs: its own and the earlier ones it reused (`resume=true`)."""
        own = self._sweep_jobs(experiment_id, sweep_id)
        reused = self.client.search_runs([experiment_id], reused_in_filter(sweep_id), max_results=50000)
        ids = {run.info.run_id for run in own}
        return own + [run for run in reused if run.info.run_id not in ids]

    def end_running_jobs(
        self, experiment_id: str, sweep_id: str, status: str, reason: str | None = None
    ) -> int:
        """End the sweep's job runs still RUNNING (their process was stopped before it could); how many."""
        runs = self._sweep_jobs(experiment_id, sweep_id, " and attributes.status = 'RUNNING'")
        reason = reason or STOPPED_FROM_OUTSIDE[status]
        for run in runs:
            self.end_keeping_curve(run, status, reason)
        return len(runs)

    def end_keeping_curve(self, run: Run, status: str, reason: str) -> None:
        """End a run its own process could not end; its failure step is where its stored curve ends."""
        history = self.client.get_metric_history(run.info.run_id, "loss")
        logged = max((point.step + 1 for point in history), default=0)  # points may be window means
        self.end(run.info.run_id, status, {Tags.FAILURE_STEP: logged, Tags.FAILURE_REASON: reason})

    def running_runs(self, experiment_id: str) -> list[Run]:
        return self.client.search_runs(
            [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=50000
        )

    def job_statuses(self, experiment_id: str, sweep_id: str) -> Counter[str]:
        """How many of a sweep's job runs ended (or are) in each status."""
        return Counter(run.info.status for run in self.sweep_job_runs(experiment_id, sweep_id))

    def deleted_sweep_jobs(self, experiment_id: str, sweep_id: str) -> list[Run]:
        """The sweep's job runs someone deleted (`mlflow runs delete`), still restorable."""
        return self.client.search_runs(
            [experiment_id],
            sweep_jobs_filter(sweep_id),
            run_view_type=ViewType.DELETED_ONLY,
            max_results=50000,
        )

    def job_outcomes(self, experiment_id: str, sweep_id: str) -> dict[str, tuple[str, str]]:
        """Each of a sweep's job runs, by id: its name and how it ended
        (`harness.tracking.store.job_outcome`: finished, failed, pruned, killed) or `running`."""
        runs = sorted(self.sweep_job_runs(experiment_id, sweep_id), key=lambda run: run.info.end_time or 0)
        return {
            run.info.run_id: (run.info.run_name, job_outcome(run.info.status, run.data.tags)) for run in runs
        }

    def _sweep_jobs(self, experiment_id: str, sweep_id: str, condition: str = "") -> list:
        return self.client.search_runs(
            [experiment_id], filter_string=sweep_jobs_filter(sweep_id) + condition, max_results=50000
        )


@functools.cache
def open_store(tracking_uri: str) -> Tracker:
    """The process's one gateway to the store at `tracking_uri`."""
    # MLflow draws a progress bar on stderr for every artifact download: noise around a one-line error
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return Tracker(tracking_uri)


class LossStream:
    """Sends a run's growing loss curve and, with its first batch, the run's params (one round trip
    fewer per run), at most every FLUSH_SECONDS; `finish` sends the rest with the final metrics and tags.

    With `every=k` each point sent is the mean of a window of k steps, logged at the window's last
    step (the full per-step curve goes to the run as an artifact, see `harness.job.artifacts`);
    `finish` also sends the last, shorter window. Streams training side by side in one process (a
    vectorized launcher's batch) share the flush rate: each flushes every FLUSH_SECONDS x their number.
    """

    _live: weakref.WeakSet = weakref.WeakSet()

    def __init__(
        self, tracker: Tracker, run_id: str, key: str = "loss", every: int = 1, params: dict | None = None
    ):
        self.client, self.run_id, self.key, self.every = tracker.client, run_id, key, max(1, int(every))
        self.tracker, self.store_error = tracker, False
        self.params = [Param(name, str(value)) for name, value in scrub(params or {}).items()]
        self.losses: np.ndarray = np.empty(0)
        self.sent = 0  # steps covered by the points sent so far
        # the unsent points' one timestamp, kept until they are all sent: a batch the store committed
        # but whose answer was lost (a server killed mid-reply) goes again identical, and the store
        # drops rows equal in key, step, value and timestamp, so the curve is never stored twice
        self.stamp: int | None = None
        self.last_flush = time.monotonic()
        LossStream._live.add(self)

    def update(self, losses: np.ndarray) -> None:
        """`losses` holds every value so far (step i at index i). A store that does not answer does
        not stop training: what is unsent stays in `losses` and goes with a later flush."""
        self.losses = losses
        if time.monotonic() - self.last_flush < FLUSH_SECONDS * len(LossStream._live):
            return
        try:
            self.flush()
        except Exception as error:  # the job's final flush retries, with its patience, and raises
            self.last_flush = time.monotonic()
            if not self.store_error:
                log.warning(
                    "store not answering (%s): the loss curve is kept to send later",
                    explain(error, self.tracker.tracking_uri),
                )
            self.store_error = True

    def _points(self, final: bool) -> list[Metric]:
        """The points not sent yet: whole windows, and with `final` the last partial one too."""
        now = self.stamp = self.stamp or _now_ms()
        k = self.every
        pending = self.losses[self.sent :]
        whole = len(pending) // k * k
        means = pending[:whole].reshape(-1, k).mean(axis=1) if k > 1 else pending[:whole]
        steps = range(self.sent + k - 1, self.sent + whole, k)
        values = means.tolist()
        points = [Metric(self.key, value, now, step) for step, value in zip(steps, values, strict=True)]
        if final and whole < len(pending):
            points.append(Metric(self.key, float(np.mean(pending[whole:])), now, len(self.losses) - 1))
        return points

    def flush(self) -> None:
        self._send(self._points(final=False))

    def finish(self, metrics: dict[str, float] | None = None, tags: dict[str, Any] | None = None) -> None:
        """Send everything not sent yet: params, the rest of the curve, `metrics` and `tags`."""
        LossStream._live.discard(self)
        points = self._points(final=True)
        points += [Metric(name, float(value), self.stamp, 0) for name, value in (metrics or {}).items()]
        self._send(points, [RunTag(name, str(value)) for name, value in scrub(tags or {}).items()])

    def _send(self, metrics: list[Metric], tags: list[RunTag] = ()) -> None:
        """In as few `log_batch` calls as MLflow's limits allow (1000 entities, 100 params, 100 tags)."""
        params, tags = self.params, list(tags)
        while metrics or params or tags:
            param_chunk, params = params[:PARAM_BATCH_LIMIT], params[PARAM_BATCH_LIMIT:]
            tag_chunk, tags = tags[:PARAM_BATCH_LIMIT], tags[PARAM_BATCH_LIMIT:]
            room = BATCH_LIMIT - len(param_chunk) - len(tag_chunk)
            chunk, metrics = metrics[:room], metrics[room:]
            with interrupts_held():  # a batch is stored and counted, or neither: never sent twice
                self.client.log_batch(
                    self.run_id, metrics=chunk, params=param_chunk, tags=tag_chunk, synchronous=True
                )
                self.params = params
                self.sent = max([self.sent, *(point.step + 1 for point in chunk if point.key == self.key)])
        self.stamp = None
        self.last_flush = time.monotonic()
