"""Trials left RUNNING in a study by a search whose process is gone (`kill -9`, out of memory).

Each trial is claimed by the process that asked for it (user attribute `process`, as runs are tagged,
harness.process_identity). A later search of the same study marks such a trial FAIL (`stale`), does
not count it toward `n_trials`, and enqueues its parameters again, so the trial is retried first.
"""

from __future__ import annotations

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from harness.process_identity import is_gone, process_tag
from harness.search.study import trial_id

PROCESS_ATTR = "process"
STALE_ATTR = "stale"  # a FAIL the search's process did not decide: it does not count toward n_trials


def claim(trial: optuna.Trial) -> None:
    trial.set_user_attr(PROCESS_ATTR, process_tag())


def is_stale(trial: optuna.trial.FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(STALE_ATTR))


def stale_running(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The RUNNING trials whose process is gone."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [trial for trial in running if is_gone(trial.user_attrs.get(PROCESS_ATTR, ""))]


def retry_stale_trials(study: optuna.Study, storage: BaseStorage) -> list[int]:
    """Fail and enqueue again the RUNNING trials of `study` (in `storage`) whose process is gone; their
    numbers."""
    stale = stale_running(study)
    for trial in stale:
        storage.set_trial_user_attr(trial_id(storage, study.study_name, trial.number), STALE_ATTR, True)
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retries": trial.number})
    return [trial.number for trial in stale]
