"""One Hydra job: validate its config, skip it if resumed, train, and record it all in one MLflow run.

The run is ended whatever happens: FINISHED, FAILED (diverged: returns normally so the sweep goes
on; raised: re-raised after the run is ended) or KILLED (Ctrl-C, SIGTERM: re-raised so Hydra stops;
pruned by an Optuna search's pruner: returns normally, its curve kept; a SLURM job stopped by its time
limit or scancel: returns normally, so the sweep goes on).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.checks.job_config import job_config
from harness.checks.sweep_plan import run_name, set_keys
from harness.job.console import quiet_job_console
from harness.job.progress import StepProgress
from harness.job.records import end_stopped_run, keep_locally, record, reproduce_note
from harness.job.refused import SweepRefused
from harness.job.signals import (
    raise_on_sigterm,
    refuse_if_terminated,
    stopped_by_slurm,
)
from harness.log_routing import root_log_file, route_library_logs
from harness.process_identity import is_gone
from harness.provenance import code_version, run_tags
from harness.rerun.job import load_rerun
from harness.search.trial import link_trial
from harness.sweep_context import SweepContext, current_sweep_id
from harness.tracking import (
    CredentialsRefused,
    LossStream,
    Tags,
    Tracker,
    open_store,
    where_to_look,
    with_patience,
)
from harness.training.batches import shared_key, train_many
from harness.training.config import Config
from harness.training.loop import TrainResult
from hydra_plugins.hydra_vectorized_launcher import batch_point

log = logging.getLogger("harness")


def job_context(overrides: list[str]) -> SweepContext:
    """The sweep this job belongs to, or a sweep of one for a single run."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        context = SweepContext.read(hydra_cfg.sweep.dir)
        if context is not None:
            return context
    return SweepContext(
        current_sweep_id(), experiment_id=None, parent_run_id=None, swept_keys=set_keys(overrides)
    )


def run_job(cfg: DictConfig) -> str:
    """Run the job `cfg` describes; return the id of the MLflow run that holds its result (with
    `resume=true`, the earlier FINISHED run it skipped for). A sweeper reads the outcome from that run."""
    raise_on_sigterm()  # a job in a worker process (joblib, submitit) ends its run KILLED on SIGTERM
    refuse_if_terminated()
    hydra_cfg = HydraConfig.get()
    route_library_logs(root_log_file())  # MLflow's, matplotlib's lines: to the job's log file
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    if in_sweep:
        quiet_job_console()  # on a terminal, the sweep's bar is the one display
    overrides = list(hydra_cfg.overrides.task)
    job = job_config(cfg, overrides, hydra_cfg.runtime.choices)
    context = job_context(overrides)
    tracking_uri = context.resolved_tracking_uri()
    tracker = open_store(tracking_uri)
    rerun = load_rerun(tracker, job.config) if job.config.rerun else None
    if rerun is not None:  # the stored run's settings, overrides and name
        job, overrides = rerun.job, rerun.overrides
    config, params, digest = job.config, job.params, job.digest
    experiment_id = context.experiment_id or tracker.experiment_id(config.experiment)
    name = rerun.name if rerun is not None else run_name(params, context.swept_keys)
    if config.resume and (previous := tracker.find_finished(experiment_id, digest, code_version())):
        if context.parent_run_id:  # the sweep counts it as its own, by reference
            tracker.reuse(previous, context.sweep_id, context.parent_run_id)
        log.info("skip %s: an identical config with the same code already FINISHED in run %s", name, previous)
        return previous
    if config.resume and (running := running_elsewhere(tracker, experiment_id, digest)):
        if context.parent_run_id:  # counted when it finishes, as a FINISHED one is
            tracker.reuse(running.info.run_id, context.sweep_id, context.parent_run_id)
        log.info(
            "skip %s: an identical config is RUNNING in run %s (process %s): not started twice",
            name, running.info.run_id, running.data.tags.get(Tags.PROCESS),
        )  # fmt: skip
        return running.info.run_id

    trial = link_trial(hydra_cfg, context.sweep_id, tracking_uri, config.steps)
    log.info("start %s (overrides: %s)", name, " ".join(overrides) or "none")
    tags = job_tags(context, overrides, digest) | (trial.tags() if trial else {})
    if rerun is not None:
        tags[Tags.RERUN_OF] = rerun.original_id
    patience = config.store_patience
    try:
        run_id = with_patience(lambda: tracker.start_run(experiment_id, name, tags), patience, tracking_uri)
    except CredentialsRefused as refused:
        raise SweepRefused(str(refused)) from None
    # the params go out with the run's first batch of records, one round trip fewer
    stream = LossStream(tracker, run_id, every=config.log_every_n_steps, params=params)
    progress = StepProgress(name, config.steps, enabled=not in_sweep)  # a sweep shows its own

    def on_progress(step, losses):
        stream.update(losses)
        progress.update(step, losses)
        if trial is not None:
            trial.reporter(step + 1, losses)

    result = None
    try:
        with progress:  # closed before the job's next line reaches the terminal
            # alone `train(config, on_progress)`; under hydra/launcher=vectorized, with the jobs of its key
            result = batch_point(shared_key(config), (config, on_progress), train_batch)
        ending = rerun.outcome(result.losses) if rerun is not None else {}
        ending[Tags.NOTE] = reproduce_note(run_id, overrides, rerun, ending.get(Tags.RERUN_RESULT))
        with_patience(
            lambda: record(tracker, run_id, config, result, name, stream, ending), patience, tracking_uri
        )
    except CredentialsRefused as refused:
        keep_locally(run_id, result.losses if result is not None else stream.losses, str(refused), name)
        raise SweepRefused(str(refused)) from None
    except BaseException as error:
        # Hydra keeps the exception until the sweep ends: free the training's arrays its frames hold
        traceback.clear_frames(error.__traceback__)
        end_stopped_run(tracker, run_id, stream, error, name, reproduce_note(run_id, overrides, rerun))
        if stopped_by_slurm(error):  # SLURM stopped this job alone: the sweep goes on and reports it
            return run_id
        raise
    log_end(name, result, run_id)
    if context.parent_run_id is None:
        log.info("stored in experiment '%s': %s", config.experiment, where_to_look(tracking_uri))
    return run_id


def running_elsewhere(tracker: Tracker, experiment_id: str, digest: str):
    """A RUNNING run of this config and code whose process is alive (or on another host), else None."""
    runs = tracker.find_running(experiment_id, digest, code_version())
    return next((run for run in runs if not is_gone(run.data.tags.get(Tags.PROCESS, ""))), None)


def train_batch(items: list[tuple[Config, Any]]) -> list[TrainResult]:
    """The jobs' (config, on_progress) pairs trained as one batch."""
    return train_many([config for config, _ in items], [on_progress for _, on_progress in items])


def job_tags(context: SweepContext, overrides: list[str], digest: str) -> dict[str, str]:
    tags = run_tags(context, Tags.ROLE_JOB, overrides) | {Tags.CONFIG_HASH: digest}
    if context.parent_run_id:
        tags[Tags.PARENT_RUN_ID] = context.parent_run_id
    return tags


def log_end(name: str, result: TrainResult, run_id: str) -> None:
    if result.stopped:
        steps_done = len(result.losses)
        log.info("end %s: KILLED at step %d, %s, run %s", name, steps_done, result.stop_reason, run_id)
        return
    if result.diverged:
        log.warning(
            "end %s: FAILED, diverged at step %d (%s), run %s",
            name, result.failure_step, result.failure_reason, run_id,
        )  # fmt: skip
        return
    log.info(
        "end %s: FINISHED final_loss=%.4g eval_mse=%.4g in %.2f s, run %s",
        name, result.final_loss, result.eval_mse, result.train_seconds, run_id,
    )  # fmt: skip
