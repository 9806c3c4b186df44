"""The Optuna search behind `hydra/sweeper=optuna` (the plugin class in `hydra_plugins` is a shell, so that
Hydra's plugin scan stays cheap): ask the study for `n_jobs` trials, launch them through the configured
launcher (basic, joblib, submitit, ...), tell the study how each ended, until the study holds `n_trials`.

Each trial is `seeds_per_trial` jobs (seed, seed+1, ...); its value is the mean of their objective, so a
lucky seed is never the answer. A harness job returns its MLflow run's id (`harness.job.job.run_job`),
and the trial's outcome is read from that run: FINISHED with the objective among its metrics, FAILED
(diverged), or KILLED with `pruned_at_step`; a plain number is taken as the value too, as Hydra's own
Optuna sweeper does. A diverged job makes its trial FAIL, a pruned one PRUNED; a job that raised counts
against `max_failure_rate`. Inside the harness (a SweepContext in the
sweep directory) every job is a child run of the sweep's parent run, and the parent records the study.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from harness.log_routing import route_library_logs
from harness.search.samplers import GRID_TARGET
from harness.search.space import SearchSpace, parse_space
from harness.search.stale_trials import claim, is_stale, retry_stale_trials
from harness.search.study import Search, check_storage, open_storage, open_study, storage_url, trial_id
from harness.search.ticket import TICKETS_DIR, TrialTicket
from harness.sweep_context import SweepContext
from harness.tracking import resolve_tracking_uri

log = logging.getLogger("harness")

FINISHED, FAILED, PRUNED = "FINISHED", "FAILED", "PRUNED"  # how a job ended, as `read_outcome` tells
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


class SearchDriver:
    def __init__(
        self,
        sampler: DictConfig,
        pruner: DictConfig,
        objective: str,
        direction: str,
        n_trials: int,
        n_jobs: int,
        seeds_per_trial: int,
        seed_key: str,
        report_every: int,
        storage: str | None,
        study_name: str | None,
        max_failure_rate: float,
        params: DictConfig | None,
    ) -> None:
        check_settings(n_trials, n_jobs, seeds_per_trial, report_every, direction, max_failure_rate)
        self.sampler_cfg, self.pruner_cfg = sampler, pruner
        self.objective, self.direction = objective, direction
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.seeds_per_trial, self.seed_key = seeds_per_trial, seed_key
        self.storage, self.study_name = storage, study_name
        self.max_failure_rate = max_failure_rate
        self.params = params
        self.config: DictConfig | None = None
        self.launcher = None
        self.hydra_context: HydraContext | None = None
        self.tracking_uri: str | None = None  # where the jobs' runs are (read after each batch)
        self.job_idx = 0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.job_idx = config, hydra_context, 0
        route_library_logs()  # Optuna, imported just now, put its own handler on stderr: to the sweep's log
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def search_arguments(self, arguments: list[str]) -> list[str]:
        """`hydra.sweeper.params` (a named search), then the command line's overrides, which win."""
        from_params = [f"{key}={value}" for key, value in (self.params or {}).items()]
        return from_params + list(arguments)

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        assert self.config is not None and self.launcher is not None
        space = parse_space(self.search_arguments(arguments))
        search = Search(space, self.objective, self.direction, self.seeds_per_trial)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")  # as Hydra's basic sweeper does
        context = SweepContext.read(sweep_dir)
        self.tracking_uri = tracking_uri = (
            context.resolved_tracking_uri() if context else resolve_tracking_uri()
        )
        url = storage_url(self.storage, tracking_uri)
        check_storage(url, tracking_uri)
        experiment = OmegaConf.select(self.config, "experiment", default=None) or self.config.hydra.job.name
        study_name = self.study_name or search.default_study_name(experiment)
        storage = open_storage(url)
        study = open_study(storage, url, study_name, search)
        is_grid = self.sampler_cfg._target_ == GRID_TARGET
        study.sampler = self.build_sampler(space, study, is_grid)
        goal = min(self.n_trials, len(space.grid())) if is_grid else self.n_trials
        if retried := retry_stale_trials(study, storage):
            log.warning(
                "trial(s) %s were left RUNNING by a search that is gone: marked FAIL, asked again",
                ", ".join(map(str, retried)),
            )
        log.info(
            "study %s in %s: %d of %d trials already there; sampler %s, pruner %s",
            study_name, scrub(url), count(study), goal, type(study.sampler).__name__,
            self.pruner_cfg._target_.rsplit(".", 1)[-1],
        )  # fmt: skip
        shutil.rmtree(sweep_dir / TICKETS_DIR, ignore_errors=True)
        batches = []
        base_seed = OmegaConf.select(self.config, self.seed_key, default=0) or 0
        while (to_go := goal - count(study)) > 0:
            trials = [study.ask(space.distributions) for _ in range(min(to_go, self.n_jobs))]
            for trial in trials:
                claim(trial)
            jobs, tickets = [], []
            for trial in trials:
                stored_id = trial_id(storage, study_name, trial.number)
                for seed_index in range(self.seeds_per_trial):
                    overrides = space.overrides(trial.params)
                    if self.seeds_per_trial > 1:
                        overrides.append(f"{self.seed_key}={base_seed + seed_index}")
                    jobs.append(overrides)
                    tickets.append(
                        TrialTicket(study_name, trial.number, stored_id, seed_index,
                                    context.sweep_id if context else None)
                    )  # fmt: skip
            for offset, ticket in enumerate(tickets):
                ticket.write(sweep_dir, self.job_idx + offset)
            try:
                returns = self.launcher.launch(jobs, initial_job_idx=self.job_idx)
            except BaseException:  # Ctrl-C, a launcher that gave up: these trials will not finish
                for trial in trials:
                    study.tell(trial, state=TrialState.FAIL)
                raise
            self.job_idx += len(returns)
            batches.append(returns)
            k = self.seeds_per_trial
            for index, trial in enumerate(trials):
                self.tell(study, trial, returns[index * k : (index + 1) * k])
            self.check_failure_rate(returns)
        summary = study_summary(study, study_name, url, self.objective, self.pruner_cfg)
        log_summary(summary)
        OmegaConf.save(OmegaConf.create(summary), sweep_dir / "optimization_results.yaml")
        if context is not None and context.parent_run_id:
            record_on_parent(context, summary)
        return batches

    def build_sampler(
        self, space: SearchSpace, study: optuna.Study, is_grid: bool
    ) -> optuna.samplers.BaseSampler:
        """The configured sampler; its seed is offset by the trials already in the study, so that a
        resumed study does not draw its first trials again."""
        overrides: dict[str, Any] = {}
        seed = self.sampler_cfg.get("seed")
        if seed is not None:
            overrides["seed"] = seed + len(study.trials)
        if is_grid:
            overrides["search_space"] = {d.key: d.grid_values() for d in space.dimensions}
        return instantiate(self.sampler_cfg, **overrides)

    def tell(self, study: optuna.Study, trial: optuna.trial.Trial, returns: Sequence[JobReturn]) -> None:
        statuses, values = [], []
        for job in returns:
            status, value = read_outcome(job, self.objective, self.tracking_uri)
            statuses.append(status)
            if value is not None:
                values.append(value)
        if PRUNED in statuses:
            study.tell(trial, state=TrialState.PRUNED)
        elif all(status == FINISHED for status in statuses) and len(values) == len(statuses):
            study.tell(trial, sum(values) / len(values))
        else:
            study.tell(trial, state=TrialState.FAIL)

    def check_failure_rate(self, returns: Sequence[JobReturn]) -> None:
        raised = [job for job in returns if job.status == JobStatus.FAILED]
        if raised and len(raised) / len(returns) > self.max_failure_rate:
            log.error(
                "%d of %d jobs raised (hydra.sweeper.max_failure_rate=%s): the search stops",
                len(raised), len(returns), self.max_failure_rate,
            )  # fmt: skip
            _ = raised[0].return_value  # re-raises the job's own error, with its traceback


MAX_TRIALS = 100_000  # one command's trials: each is a run of the store and a trial of the study


def check_settings(
    n_trials: int,
    n_jobs: int,
    seeds_per_trial: int,
    report_every: int,
    direction: str,
    max_failure_rate: float,
) -> None:
    """Raise ValueError (one line naming the key) for a setting the search cannot run with."""
    for key, value in (
        ("n_trials", n_trials), ("n_jobs", n_jobs), ("seeds_per_trial", seeds_per_trial),
        ("report_every", report_every),
    ):  # fmt: skip
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"hydra.sweeper.{key}={value}: must be a positive integer")
    if n_trials > MAX_TRIALS:
        raise ValueError(
            f"hydra.sweeper.n_trials={n_trials} is not allowed: hydra.sweeper.n_trials must be at most "
            f"{MAX_TRIALS} (each trial is an MLflow run; split a larger search into reruns of one study)"
        )
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"hydra.sweeper.direction={direction}: allowed: minimize, maximize")
    if not 0.0 <= max_failure_rate <= 1.0:
        raise ValueError(f"hydra.sweeper.max_failure_rate={max_failure_rate}: must be in [0, 1]")


def count(study: optuna.Study) -> int:
    """Trials that count toward n_trials: finished in any way, or running (maybe in another command)."""
    return sum(not is_stale(trial) for trial in study.get_trials(deepcopy=False, states=COUNTED))


def read_outcome(job: JobReturn, objective: str, tracking_uri: str) -> tuple[str, float | None]:
    """(status, objective value) of one job: from the MLflow run whose id it returned, or a plain number."""
    if job.status != JobStatus.COMPLETED:
        return FAILED, None
    value = job.return_value
    if isinstance(value, str):
        return run_outcome(value, objective, tracking_uri)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return FAILED, None
    return (FINISHED, number) if math.isfinite(number) else (FAILED, None)


def run_outcome(run_id: str, objective: str, tracking_uri: str) -> tuple[str, float | None]:
    """How the run ended, as the study is told: PRUNED (KILLED with `pruned_at_step`), FINISHED with
    its objective, or FAILED (diverged, raised, interrupted, or no finite objective)."""
    from harness.tracking import KILLED, Tags, open_store

    run = open_store(tracking_uri).run(run_id)
    if run.info.status == KILLED and Tags.PRUNED_AT_STEP in run.data.tags:
        return PRUNED, None
    if run.info.status != FINISHED:
        return FAILED, None
    metric = run.data.metrics.get(objective)
    if metric is None or not math.isfinite(metric):
        log.warning("run %s has no finite %s: its trial fails", run_id, objective)
        return FAILED, None
    return FINISHED, metric


def scrub(url: str) -> str:
    from harness.tracking import scrub_text

    return scrub_text(url)


def study_summary(study: optuna.Study, name: str, url: str, objective: str, pruner_cfg: DictConfig) -> dict:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    summary: dict[str, Any] = {
        "name": "optuna",
        "study_name": name,
        "storage": scrub(url),
        "sampler": type(study.sampler).__name__,
        "pruner": pruner_cfg._target_.rsplit(".", 1)[-1],
        "direction": study.direction.name.lower(),
        "objective": objective,
        "n_complete": states.count(TrialState.COMPLETE),
        "n_pruned": states.count(TrialState.PRUNED),
        "n_failed": states.count(TrialState.FAIL),
    }
    if summary["n_complete"]:
        best = study.best_trial
        summary |= {"best_trial": best.number, "best_value": best.value, "best_params": dict(best.params)}
    return summary


def log_summary(summary: dict) -> None:
    log.info(
        "study %s: %d complete, %d pruned, %d failed",
        summary["study_name"], summary["n_complete"], summary["n_pruned"], summary["n_failed"],
    )  # fmt: skip
    if "best_value" in summary:
        params = " ".join(f"{key}={value}" for key, value in summary["best_params"].items())
        log.info("best trial %d: %s=%.4g with %s", summary["best_trial"], summary["objective"],
                 summary["best_value"], params)  # fmt: skip


def record_on_parent(context: SweepContext, summary: dict) -> None:
    """The study on the sweep's parent run: where it is, how it searched, and its best trial."""
    from harness.tracking import Tags, open_store

    tracker = open_store(context.resolved_tracking_uri())
    described = ("study_name", "storage", "sampler", "pruner", "direction", "objective")
    params = {f"optuna.{key}": summary[key] for key in described}
    params |= {f"optuna.best.{key}": value for key, value in summary.get("best_params", {}).items()}
    metrics = {f"optuna.{key}": summary[key] for key in ("n_complete", "n_pruned", "n_failed")}
    if "best_value" in summary:
        metrics |= {"optuna.best_value": summary["best_value"], "optuna.best_trial": summary["best_trial"]}
    tracker.log_params(context.parent_run_id, params)
    tracker.log_metrics(context.parent_run_id, metrics)
    tracker.set_tags(context.parent_run_id, {Tags.OPTUNA_STUDY: summary["study_name"]})
