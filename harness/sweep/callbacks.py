"""The Hydra callback that makes each `-m` invocation one MLflow parent run.

`on_multirun_start` runs once, in the launching process, before any job: it creates the store and
the experiment (parallel jobs creating a fresh sqlite store at once would corrupt it), opens the
parent run and leaves a SweepContext in the sweep directory for the jobs. `on_multirun_end` ends the
parent, prints where the runs are and writes the report; `end_active_sweep` does the same for a sweep
that a raising job or Ctrl-C stopped (no report on Ctrl-C).
"""

from __future__ import annotations

import functools
import logging
import shlex
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness.checks import sweep_plan
from harness.job.console import restore_console, set_active_progress
from harness.log_routing import route_library_logs
from harness.provenance import COMMAND, rerun_command, run_tags
from harness.sweep.progress import SweepProgress
from harness.sweep_context import SweepContext, current_sweep_id
from harness.tracking import (
    FINISHED,
    KILLED,
    Tags,
    outcome_counts,
    resolve_tracking_uri,
    run_page_url,
    where_to_look,
)

log = logging.getLogger("harness")
SWEEP_LOG = "sweep.log"  # in the sweep's directory: what the libraries said in the launching process
EXIT_STORE = 2  # as harness.run's refusals before any job: nothing ran


@dataclass
class OpenSweep:
    """A sweep whose parent run is not ended yet, and how to end it."""

    tracker: Any  # harness.tracking.Tracker, imported late: the callback loads before MLflow is needed
    context: SweepContext
    experiment: str
    report: bool
    model_name: str | None  # register the winner under this name; None: register=false
    description: str  # what the sweep is: the start of its parent run's note
    log_file: Path  # the sweep's own log: the libraries' lines in this process (harness.log_routing)
    progress: SweepProgress | None = None

    def end(self, status: str) -> None:
        """End the parent run, say how its jobs ended and where, tell the outcome on the parent run,
        publish the winner and write the report (these three unless Ctrl-C)."""
        context = self.context
        if self.progress is not None:
            self.progress.stop()
        route_library_logs(self.log_file)  # a job run in this process routed them to its own log
        restore_console()
        ends = self.tracker.job_outcomes(context.experiment_id, context.sweep_id)
        summary = outcome_counts(Counter(outcome for _, outcome in ends.values())) if ends else "no runs"
        if status != KILLED:
            self.tell_outcome()
        self.tracker.end(context.parent_run_id, status)
        outcome = "done" if status == FINISHED else f"ended {status}"
        log.info("sweep %s %s: %s", context.sweep_id, outcome, summary)
        if self.report and status != KILLED:
            write_report(self.experiment, context.sweep_id, context.tracking_uri)
        parent = run_page_url(context.tracking_uri, context.experiment_id, context.parent_run_id)
        log.info("the sweep's own run (its verdict, report and model): %s", parent)
        look = where_to_look(context.tracking_uri, experiment_id=context.experiment_id)
        log.info("stored in experiment '%s' (expand sweep %s): %s", self.experiment, context.sweep_id, look)

    def tell_outcome(self) -> None:
        """The parent run's metrics and description (its note in the UI), and the winner's model.
        A failure here is a warning: the runs are all stored already."""
        context = self.context
        try:
            from harness.report import sweep_outcome

            outcome = sweep_outcome(self.experiment, context.sweep_id, context.tracking_uri)
            self.tracker.log_metrics(context.parent_run_id, outcome.metrics())
            note = [self.description, "", outcome.verdict]
            if outcome.best_run_id and self.model_name:
                from harness.sweep.winner import publish_winner

                uri, version = publish_winner(self.tracker, outcome.best_run_id, self.model_name)
                log.info(
                    "best run's network: model %s, registered as models:/%s/%s", uri, self.model_name, version
                )
                note += ["", f"Model: `models:/{self.model_name}/{version}` (the best run's network, {uri})."]
            note += ["", "Report: `report/report.html` in this run's artifacts (when `report=true`)."]
            self.tracker.describe(context.parent_run_id, "\n".join(note))
        except Exception as error:  # the outcome is a convenience: never let it fail the sweep
            log.warning(
                "no sweep outcome: %s: %s",
                type(error).__name__,
                str(error).splitlines()[0] if str(error) else "",
            )


_open_sweep: OpenSweep | None = None


def end_active_sweep(status: str, reason: str | None = None) -> None:
    """End a sweep stopped early (Ctrl-C, SIGTERM, a job that raised): the job runs left RUNNING
    (their process was stopped from outside, e.g. a joblib worker), then the parent. No-op if none
    is open. `reason` goes on those job runs (default: by status)."""
    global _open_sweep
    if _open_sweep is None:
        return
    sweep, _open_sweep = _open_sweep, None
    context = sweep.context
    stopped = sweep.tracker.end_running_jobs(context.experiment_id, context.sweep_id, status, reason)
    log.warning(
        "sweep %s stopped early: %d running job run(s) ended %s; all runs so far are kept",
        sweep.context.sweep_id, stopped, status,
    )  # fmt: skip
    sweep.end(status)


def abandon_active_sweep(reason: str) -> None:
    """The store refuses this user: leave the parent run a note (ended KILLED with `reason` by the next
    command that may use the store) instead of ending it. No-op if no sweep is open."""
    global _open_sweep
    if _open_sweep is None:
        return
    sweep, _open_sweep = _open_sweep, None
    if sweep.progress is not None:
        sweep.progress.stopped.set()
    from harness.job.refused import leave_note

    leave_note(sweep.context.parent_run_id, reason)


class MlflowSweepCallback(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra turns an Exception raised here into a warning and launches the jobs anyway, orphaned:
        # a sweep whose parent run cannot be made stops here, as one line and SystemExit.
        tracking_uri = resolve_tracking_uri()
        try:
            self._start(config, tracking_uri)
        except Exception as error:
            from harness.tracking import explain

            print(f"error: no job started: {explain(error, tracking_uri)}", file=sys.stderr)
            raise SystemExit(EXIT_STORE) from None

    def _start(self, config: DictConfig, tracking_uri: str) -> None:
        from harness.tracking import open_store

        arguments = sweep_plan.sweep_arguments(config)
        keys = sweep_plan.sweep_keys(config, arguments)
        tracker = open_store(tracking_uri)
        if keys == ["rerun"]:  # a rerun of stored runs: their sweep's keys name its jobs and settings
            from harness.rerun.command_line import stored_swept_keys

            keys = stored_swept_keys(tracker, arguments)
        experiment_id = tracker.experiment_id(config.experiment)
        context = SweepContext(current_sweep_id(), experiment_id, None, keys, tracking_uri)
        jobs = sweep_plan.planned_jobs(config, arguments)
        values = sweep_values(config, arguments)
        searched = keys if sweep_plan.is_search(config) else None
        description = sweep_description(context.sweep_id, jobs, values, searched)
        tags = run_tags(context, Tags.ROLE_SWEEP, list(config.hydra.overrides.task)) | {
            Tags.NOTE: description
        }
        params = {key: ", ".join(shown) for key, shown in values.items()} | {"n_jobs": jobs}
        context.parent_run_id = tracker.start_run(experiment_id, f"sweep {context.sweep_id}", tags, params)
        global _open_sweep
        model_name = str(config.model_name) if config.register else None
        log_file = Path(config.hydra.sweep.dir) / SWEEP_LOG
        _open_sweep = OpenSweep(
            tracker, context, config.experiment, bool(config.report), model_name, description, log_file
        )
        context.write(config.hydra.sweep.dir)
        route_library_logs(log_file)  # the sweep's folder exists now; before, a refused sweep writes nothing
        log.info(
            "sweep %s: %d jobs over %s, parent run %s in experiment '%s'",
            context.sweep_id,
            jobs,
            ", ".join(keys) or "no keys",
            context.parent_run_id,
            config.experiment,
        )
        job_ends = functools.partial(tracker.job_outcomes, experiment_id, context.sweep_id)
        _open_sweep.progress = SweepProgress(job_ends, jobs).start()
        set_active_progress(_open_sweep.progress)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global _open_sweep
        if _open_sweep is not None:
            sweep, _open_sweep = _open_sweep, None
            sweep.end(FINISHED)


def sweep_values(config: DictConfig, arguments: list[str]) -> dict[str, list[str]]:
    """Each task key the command sets, with its values as written: `{"lr": ["1e-3", "1e-2"]}`; a
    search's as one spelling each: `{"lr": ["tag(log,interval(1e-4,1e-1))"]}`."""
    if sweep_plan.is_search(config):
        return sweep_plan.search_values(arguments)
    axes = sweep_plan.sweep_axes(arguments)
    return {
        key: [override.partition("=")[2] for override in overrides]
        for key, overrides in axes.items()
        if sweep_plan.is_task_key(key)
    }


def sweep_description(
    sweep_id: str, jobs: int, values: dict[str, list[str]], searched: list[str] | None = None
) -> str:
    """The parent run's note (Markdown): the command, and what it sweeps (or searches)."""
    command = shlex.join([*COMMAND.split(), *sys.argv[1:]])
    if searched is not None:
        space = ", ".join(f"{key}={values[key][0]}" if key in values else key for key in searched)
        return f"Search `{sweep_id}`: up to {jobs} jobs over {space or 'no key'}.\n\n    {command}"
    swept = ", ".join(f"{key} ({len(shown)} values)" for key, shown in values.items() if len(shown) > 1)
    again = f"Train every job again and compare with its curve:\n\n    {rerun_command(sweep_id)}"
    return f"Sweep `{sweep_id}`: {jobs} jobs over {swept or 'no key'}.\n\n    {command}\n\n{again}"


def write_report(experiment: str, sweep_id: str, tracking_uri: str) -> None:
    """The sweep's report; a failure is one warning line, the runs stay as they are."""
    try:
        from harness.report import write_report as write

        path = write(experiment, sweep=sweep_id, tracking_uri=tracking_uri)
    except Exception as error:  # the report is a convenience: never let it fail the sweep
        log.warning(
            "no report: %s: %s", type(error).__name__, str(error).splitlines()[0] if str(error) else ""
        )
        return
    log.info("report: %s", path)
