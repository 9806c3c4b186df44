"""How a job's MLflow run ends: its last records and status (FINISHED, FAILED, KILLED), its description
saying how to reproduce it; or, when the store refuses this user, the curve kept in the job's folder."""

from __future__ import annotations

import logging
import shlex
import tempfile
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from harness.job import slurm_stops
from harness.job.artifacts import result_metrics, write_artifacts, write_curve
from harness.job.refused import leave_note
from harness.job.signals import Terminated, no_interruptions, stopped_by_slurm
from harness.provenance import COMMAND, rerun_command
from harness.rerun.job import Rerun
from harness.tracking import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    KILLED,
    TERMINATED,
    LossStream,
    Tags,
    Tracker,
    explain,
    scrub_text,
)
from harness.training.config import Config
from harness.training.loop import TrainResult

log = logging.getLogger("harness")


def failure_tags(step: int, reason: str) -> dict[str, str]:
    return {Tags.FAILURE_STEP: str(step), Tags.FAILURE_REASON: scrub_text(reason)[:500]}


def stopped_tags(steps_done: int, reason: str) -> dict[str, str]:
    """A run its `on_progress` stopped early: only a search's pruner does (`harness.search.trial`)."""
    return failure_tags(steps_done, reason) | {Tags.PRUNED_AT_STEP: str(steps_done)}


def reproduce_note(
    run_id: str, overrides: list[str], rerun: Rerun | None = None, result: str | None = None
) -> str:
    """The run's description (Markdown): the command that trains it again and compares, and the
    override command line with the same settings; for a rerun, what it was a rerun of and how it compared."""
    lines = []
    if rerun is not None:
        lines += [f"Rerun of run `{rerun.original_id}`" + (f": {result}." if result else "."), ""]
    lines += [
        "Train it again and compare with this run's curve:",
        "",
        f"    {rerun_command(run_id)}",
        "",
        "The same settings as a command line:",
        "",
        f"    {shlex.join([*COMMAND.split(), *overrides])}",
    ]
    return "\n".join(lines)


def record(
    tracker: Tracker,
    run_id: str,
    config: Config,
    result: TrainResult,
    name: str,
    stream: LossStream,
    tags: dict[str, str] | None = None,
) -> None:
    """Send the rest of the run's records in three round trips: the curve's last points, the metrics
    and tags (`tags` too) in one batch, the artifacts in one call, then the status: FINISHED, FAILED if
    it diverged, KILLED if its `on_progress` stopped it (a search's pruner)."""
    failure, status = dict(tags or {}), FINISHED
    if result.diverged:
        failure, status = failure | failure_tags(result.failure_step, result.failure_reason), FAILED
    elif result.stopped:
        failure, status = failure | stopped_tags(len(result.losses), result.stop_reason), KILLED
    stream.finish(result_metrics(result), failure)
    with tempfile.TemporaryDirectory(prefix="harness-") as directory:
        write_artifacts(result, config, name, Path(directory))
        tracker.log_artifacts(run_id, Path(directory))
    tracker.end(run_id, status)


def end_stopped_run(
    tracker: Tracker, run_id: str, stream: LossStream, error: BaseException, name: str, note: str = ""
) -> None:
    """End a run its job could not finish: KILLED on Ctrl-C or SIGTERM (on SLURM: its time limit or
    scancel), else FAILED; keep the curve so far."""
    interrupted = isinstance(error, KeyboardInterrupt)
    reason = f"{type(error).__name__}: {error}"
    if interrupted:
        reason = TERMINATED if isinstance(error, Terminated) else INTERRUPTED
    if stopped_by_slurm(error):  # its time limit, or scancel
        reason = slurm_stops.stop_reason(error.signum)
    try:
        with no_interruptions():  # a second Ctrl-C or SIGTERM must not cut the run's ending short
            stream.finish(tags=failure_tags(len(stream.losses), reason) | ({Tags.NOTE: note} if note else {}))
            with tempfile.TemporaryDirectory(prefix="harness-") as directory:
                tracker.log_artifacts(run_id, write_curve(stream.losses, Path(directory)).parent)
            tracker.end(run_id, KILLED if interrupted else FAILED)
    except Exception as store_error:  # keep the job's own error; say why the run may stay RUNNING
        log.error("could not end run %s: %s", run_id, explain(store_error, tracker.tracking_uri))
    log.error(
        "end %s: %s, run %s", name, f"KILLED ({reason})" if interrupted else f"FAILED ({reason})", run_id
    )


def keep_locally(run_id: str, losses, reason: str, name: str) -> None:
    """The store refuses this user: the curve goes to the job's folder, and a note says the run is to
    end KILLED with `reason` (the next command that may use the store ends it; harness.sweep.stale)."""
    curve = write_curve(losses, Path(HydraConfig.get().runtime.output_dir))
    leave_note(run_id, reason, curve)
    log.info(
        "end %s: kept in %s (the store refused it); run %s ends KILLED at the next command",
        name,
        curve,
        run_id,
    )
