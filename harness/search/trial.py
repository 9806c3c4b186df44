"""A job that is one trial of an Optuna search (harness's `hydra/sweeper=optuna`): which trial it is, and a
reporter that sends its smoothed loss to the trial and stops it when the pruner says so.

The sweeper leaves a ticket per job in the sweep directory (`.optuna_trials/<job num>.json`, readable by
jobs in other processes and on other machines); the job opens the study from its storage and rebuilds the
pruner from the same config (Optuna does not store the pruner with the study). The training loop knows
none of this: the reporter is called from the job's `on_progress` and raises `Pruned`, a `StopTraining`,
which ends that run alone (in `train`, and in a vectorized launcher's batch, `train_many`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.curves import smooth
from harness.search.names import SWEEPER_TARGET
from harness.search.ticket import TrialTicket
from harness.training.loop import StopTraining

PRUNED_ATTR = "pruned_at_step"  # set on a trial by its first seed's job when the pruner stops it
SMOOTHING_WINDOW = 100  # steps averaged into each reported value (the window of final_loss)


class Pruned(StopTraining):
    """The pruner stopped this trial after `step` training steps."""

    def __init__(self, step: int, reason: str):
        super().__init__(reason)
        self.step = step


class TrialReporter:
    """`reporter(steps_done, losses)`, every `every` steps: the trial's first seed reports its loss averaged
    over the last SMOOTHING_WINDOW steps and stops (`Pruned`) when the pruner says so, marking the trial;
    its other seeds stop when they find the trial marked. So the pruner judges one curve per trial, as
    with one seed, whether the seeds run side by side or one after another."""

    def __init__(self, study, trial_id: int, every: int, total_steps: int, reports: bool):
        self.study, self.trial_id = study, trial_id
        self.every, self.total_steps, self.reports = every, total_steps, reports
        self.next_check = every

    def __call__(self, steps_done: int, losses: np.ndarray) -> None:
        if steps_done < self.next_check or len(losses) == 0 or steps_done >= self.total_steps:
            return
        self.next_check = (steps_done // self.every + 1) * self.every
        import optuna

        trial = optuna.trial.Trial(self.study, self.trial_id)
        if not self.reports:
            if (step := trial.user_attrs.get(PRUNED_ATTR)) is not None:
                raise Pruned(steps_done, f"pruned with its trial, whose first seed was pruned at step {step}")
            return
        value = float(smooth(losses[-SMOOTHING_WINDOW:], SMOOTHING_WINDOW)[-1])
        trial.report(value, steps_done)
        if trial.should_prune():
            trial.set_user_attr(PRUNED_ATTR, steps_done)
            pruner = type(self.study.pruner).__name__
            raise Pruned(steps_done, f"pruned by {pruner} at step {steps_done} (smoothed loss {value:.4g})")


@dataclass
class TrialLink:
    """This job's trial: its tags on the MLflow run, and its reporter."""

    ticket: TrialTicket
    reporter: TrialReporter

    def tags(self) -> dict[str, str]:
        from harness.tracking import Tags

        return {Tags.OPTUNA_STUDY: self.ticket.study_name, Tags.OPTUNA_TRIAL: str(self.ticket.trial_number)}


@functools.cache
def shared_storage(url: str):
    """One storage (one connection pool) per URL and process: a vectorized launcher's process runs
    many trials' jobs."""
    from harness.search.study import open_storage

    return open_storage(url)


def link_trial(hydra_cfg: Any, sweep_id: str, tracking_uri: str, total_steps: int) -> TrialLink | None:
    """The trial this Hydra job runs, or None when it is not part of an Optuna search."""
    if hydra_cfg.sweeper.get("_target_") != SWEEPER_TARGET:
        return None
    ticket = TrialTicket.read(hydra_cfg.sweep.dir, hydra_cfg.job.num)
    if ticket is None or ticket.sweep_id != sweep_id:
        return None
    import optuna
    from hydra.utils import instantiate

    from harness.search.study import storage_url

    sweeper = hydra_cfg.sweeper
    study = optuna.load_study(
        study_name=ticket.study_name,
        storage=shared_storage(storage_url(sweeper.storage, tracking_uri)),
        sampler=optuna.samplers.RandomSampler(),  # the job never samples: keep building a Trial cheap
        pruner=instantiate(sweeper.pruner),
    )
    reporter = TrialReporter(
        study, ticket.trial_id, sweeper.report_every, total_steps, ticket.seed_index == 0
    )
    return TrialLink(ticket, reporter)
