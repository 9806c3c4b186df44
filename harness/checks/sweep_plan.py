"""What a command line asks for: its jobs, the keys it sweeps, and a readable name per job.

The expansion follows Hydra's basic sweeper (`hydra.sweeper.params` of a named sweep, then the
command line's overrides, which win; the product of every key's values, in order), so the jobs
listed here are the jobs Hydra launches.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf

from harness.checks.schema import BOOKKEEPING_KEYS
from harness.search.names import SWEEPER_TARGET

# Overrides that pick where or how a sweep runs, not what a job computes: never part of a run name.
NOT_SWEPT_PREFIXES = ("hydra", "sweeps")


def parse(overrides: list[str]) -> list[Override]:
    """Hydra's reading of `overrides`; with Hydra initialized, sweeps like `optimizer=glob(*)` expand too."""
    hydra = GlobalHydra.instance()
    loader = hydra.config_loader() if hydra.is_initialized() else None
    return OverridesParser.create(config_loader=loader).parse_overrides(overrides=list(overrides))


def override_key(override: Override) -> str:
    """The key an override sets, without `+`/`~`/`++` or a package: `+sweeps=lr_width` -> `sweeps`."""
    return override.key_or_group


def is_task_key(key: str) -> bool:
    return not any(key == p or key.startswith((f"{p}.", f"{p}/")) for p in NOT_SWEPT_PREFIXES)


def sweep_arguments(multirun_cfg: DictConfig) -> list[str]:
    """A multirun's sweep as the basic sweeper reads it: its `hydra.sweeper.params`, then the command line."""
    params = OmegaConf.select(multirun_cfg, "hydra.sweeper.params") or {}
    from_params = [f"{key}={value}" for key, value in params.items()]
    return from_params + list(multirun_cfg.hydra.overrides.task)


def sweep_axes(arguments: list[str]) -> dict[str, list[str]]:
    """Each key's overrides, one per value: `lr=1e-3,1e-2` -> `{"lr": ["lr=1e-3", "lr=1e-2"]}`.

    As Hydra's basic sweeper reads them: a later override of a key replaces an earlier one.
    """
    axes: dict[str, list[str]] = {}
    for override in parse(arguments):
        key = override.get_key_element()
        if override.is_sweep_override() and not override.is_discrete_sweep():
            raise ValueError(f"{override.input_line}: the basic sweeper sweeps lists of values only")
        if override.is_sweep_override():
            axes[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            axes[key] = [f"{key}={override.get_value_element_as_str()}"]
    return axes


def is_search(multirun_cfg: DictConfig) -> bool:
    """Is this multirun an Optuna search (`hydra/sweeper=optuna`) rather than a grid?"""
    return OmegaConf.select(multirun_cfg, "hydra.sweeper._target_", default=None) == SWEEPER_TARGET


def planned_jobs(multirun_cfg: DictConfig, arguments: list[str]) -> int:
    """How many jobs the sweep launches (a search: at most n_trials x seeds_per_trial, and a grid search
    no more than its grid's points)."""
    if is_search(multirun_cfg):
        from harness.search.samplers import GRID_TARGET
        from harness.search.space import parse_space

        sweeper = multirun_cfg.hydra.sweeper
        trials = sweeper.n_trials
        if OmegaConf.select(sweeper, "sampler._target_", default=None) == GRID_TARGET:
            trials = min(trials, math.prod(len(d.grid_values()) for d in parse_space(arguments).dimensions))
        return trials * sweeper.seeds_per_trial
    return len(expand_jobs(arguments))


def sweep_keys(multirun_cfg: DictConfig, arguments: list[str]) -> list[str]:
    """`swept_keys`, plus the seed when a search trains several seeds per trial."""
    keys = swept_keys(arguments)
    if is_search(multirun_cfg) and multirun_cfg.hydra.sweeper.seeds_per_trial > 1:
        seed_key = multirun_cfg.hydra.sweeper.seed_key
        keys += [] if seed_key in keys else [seed_key]
    return keys


def search_values(arguments: list[str]) -> dict[str, list[str]]:
    """Each task key a search sets, with its value as written (the last override of a key counts):
    `{"lr": ["tag(log,interval(1e-4,1e-1))"], "steps": ["2000"]}`."""
    values: dict[str, list[str]] = {}
    for override in parse(arguments):
        key = override_key(override)
        if is_task_key(key):
            values[key] = [override.input_line.partition("=")[2]]
    return values


def expand_jobs(arguments: list[str]) -> list[list[str]]:
    """Every job's overrides, in launch order (the basic sweeper's: the product of the axes)."""
    return [list(job) for job in itertools.product(*sweep_axes(arguments).values())]


def swept_keys(arguments: list[str]) -> list[str]:
    """The task keys a sweep varies (`lr=1e-3,1e-2` varies `lr`), in the order they were given.

    As in `sweep_axes`, the last override of a key counts: `seed=0` after `seed=0,1,2` fixes it."""
    is_swept: dict[str, bool] = {}
    for override in parse(arguments):
        is_swept[override_key(override)] = override.is_sweep_override()
    return [key for key, swept in is_swept.items() if swept and is_task_key(key)]


def set_keys(arguments: list[str]) -> list[str]:
    """The task keys a single run's command line sets, bookkeeping aside: they name the run."""
    keys = (k for k in map(override_key, parse(arguments)) if is_task_key(k) and k not in BOOKKEEPING_KEYS)
    return list(dict.fromkeys(keys))


def display_value(value: Any) -> str:
    """A param as a run name shows it; a float a search drew (`0.004430375245218269`) to 4 significant
    digits (`0.00443`)."""
    if isinstance(value, float) and len(str(value)) > 8:
        return f"{value:.4g}"
    return str(value)


def run_name(params: dict[str, Any], keys: list[str]) -> str:
    """`lr=0.001 optimizer=adamw seed=0`: the run's params (`run_params`) of `keys`; `default` if none."""
    return " ".join(f"{key}={display_value(params.get(key))}" for key in keys) or "default"
