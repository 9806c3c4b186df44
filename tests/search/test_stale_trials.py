"""Trials a gone search left RUNNING: failed, marked stale and asked again first, in a storage shared with
another study (so that a trial's number is not its id in the storage)."""

from __future__ import annotations

import os
import socket

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from harness.search.stale_trials import PROCESS_ATTR, claim, is_stale, retry_stale_trials
from harness.search.study import open_storage

SPACE = {"lr": FloatDistribution(1e-4, 1e-2)}


def test_a_trial_whose_process_is_gone_is_failed_marked_and_asked_again_first(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path}/optuna.db")
    other = optuna.create_study(storage=storage, study_name="other")
    for _ in range(3):
        claim(other.ask(SPACE))
    study = optuna.create_study(storage=storage, study_name="search")
    alive, gone = study.ask(SPACE), study.ask(SPACE)
    claim(alive)
    gone.set_user_attr(PROCESS_ATTR, f"{socket.gethostname()}:{os.getpid()}:0.00")  # this pid reused: gone

    assert retry_stale_trials(study, storage) == [gone.number]

    trials = study.get_trials(deepcopy=False)
    assert trials[gone.number].state == TrialState.FAIL and is_stale(trials[gone.number])
    assert trials[alive.number].state == TrialState.RUNNING and not is_stale(trials[alive.number])
    assert not any(is_stale(trial) for trial in other.get_trials(deepcopy=False))
    retried = study.ask(SPACE)
    assert retried.params == gone.params and retried.user_attrs["retries"] == gone.number
