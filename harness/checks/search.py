"""The preflight's half for an Optuna search (`hydra/sweeper=optuna`): the sweeper's settings, the search
space in Hydra's grammar, the sampler and pruner, and the stored study (if any) must all be usable before
anything is written. Every job's values are then checked as a grid's are, from the values that bound
the space: every choice, both ends of each interval or range.
"""

from __future__ import annotations

import importlib.util

from hydra.utils import instantiate
from omegaconf import DictConfig

from harness.checks.validation import ConfigError, NothingToDo
from harness.search.driver import check_settings, count
from harness.search.samplers import GRID_TARGET
from harness.search.space import SearchSpaceError, parse_space, representative_overrides
from harness.search.stale_trials import stale_running
from harness.search.study import (
    Search,
    StudyError,
    check_same_search,
    check_storage,
    load_existing,
    open_storage,
    storage_exists,
    storage_url,
)
from harness.tracking import resolve_tracking_uri, scrub_text

GP_TARGET = "optuna.samplers.GPSampler"  # needs torch
EXAMPLE = "'lr=tag(log,interval(1e-4,1e-1))' 'width=choice(16,32,64)'"


def search_axes(master: DictConfig, arguments: list[str]) -> dict[str, list[str]]:
    """Raise ConfigError (one line) if the search cannot run; else the overrides to check each job with."""
    sweeper = master.hydra.sweeper
    try:
        check_settings(
            sweeper.n_trials, sweeper.n_jobs, sweeper.seeds_per_trial, sweeper.report_every,
            sweeper.direction, sweeper.max_failure_rate,
        )  # fmt: skip
        space = parse_space(arguments)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if not space.dimensions:
        raise ConfigError(
            f"the search space is empty: give at least one key a range of values, e.g. {EXAMPLE}"
        )
    if sweeper.seeds_per_trial > 1 and sweeper.seed_key in space.keys:
        raise ConfigError(
            f"{sweeper.seed_key} is searched and hydra.sweeper.seeds_per_trial={sweeper.seeds_per_trial} "
            "sets it too: drop one"
        )
    check_built("sampler", sweeper.sampler, space)
    check_built("pruner", sweeper.pruner, space)
    check_stored_study(master, space)
    axes = {d.key: representative_overrides(d) for d in space.dimensions}
    return axes | {line: [line] for line in space.fixed}


def check_built(what: str, cfg: DictConfig, space) -> None:
    """The sampler or pruner its config describes can be built (a grid: the space is discrete)."""
    if cfg._target_ == GP_TARGET and importlib.util.find_spec("torch") is None:
        # GPSampler is built without torch and fails only once its random start-up trials are done
        raise ConfigError("hydra/sweeper/sampler=gp needs torch: pip install torch (not a dependency)")
    try:
        if cfg._target_ == GRID_TARGET:
            instantiate(cfg, search_space={d.key: d.grid_values() for d in space.dimensions})
        else:
            instantiate(cfg)
    except SearchSpaceError as error:
        raise ConfigError(f"hydra/sweeper/sampler=grid: {error}") from None
    except Exception as error:  # Optuna's own checks (e.g. a reduction factor < 2)
        cause = error.__cause__ or error
        message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise ConfigError(f"hydra.sweeper.{what} ({cfg._target_}): {message}") from None


def check_stored_study(master: DictConfig, space) -> None:
    """A study of the same name already stored must have been made for this very search."""
    sweeper = master.hydra.sweeper
    tracking_uri = resolve_tracking_uri()
    url = storage_url(sweeper.storage, tracking_uri)
    search = Search(space, sweeper.objective, sweeper.direction, sweeper.seeds_per_trial)
    study_name = sweeper.study_name or search.default_study_name(master.experiment)
    try:
        check_storage(url, tracking_uri)
        if not storage_exists(url):
            return
        study = load_existing(open_storage(url), study_name)
        if study is not None:
            check_same_search(study, search, url)
    except StudyError as error:
        raise ConfigError(str(error)) from None
    if study is not None and (held := count(study) - len(stale_running(study))) >= goal(sweeper, space):
        raise NothingToDo(
            f"nothing to run: study {study_name} in {scrub_text(url)} already holds {held} trials of "
            f"hydra.sweeper.n_trials={sweeper.n_trials}; raise hydra.sweeper.n_trials to go on"
        )


def goal(sweeper: DictConfig, space) -> int:
    """The trials the study should hold when the search is done (a grid: at most its points)."""
    if sweeper.sampler._target_ == GRID_TARGET:
        return min(sweeper.n_trials, len(space.grid()))
    return sweeper.n_trials
