"""Check a whole command line before Hydra starts: every value any of its jobs would get is composed
and validated, so that bad input (a wrong type, an unknown key or option, a value out of range in any
job of a sweep) is refused with one line, before any store, run or directory is made.

A sweep is checked value by value, not job by job: the first job is composed in full, then each other
value of each swept key once. Plain values are set on a typed copy of the first job's config, the
way Hydra applies a command-line override; group choices (`optimizer=adam`) are composed in full.
Every rule is about one key, so this checks all the jobs of an N x M grid in 1 + (N-1) + (M-1) steps.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.types import Override
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from harness.checks import limits, sweep_plan
from harness.checks.schema import BOOKKEEPING_KEYS, CONF_DIR, resolved
from harness.checks.validation import ConfigError, explain_hydra_error, validate
from harness.training.config import Config
from harness.upstream import hydra_args_parser

# Hydra flags after which no job runs (help, printing the config, shell completion, ...).
_INFO_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion", "resolve")


@dataclass
class CommandPlan:
    """What a checked command line will run: how many jobs, and its first job's config."""

    jobs: int
    first_job: dict[str, Any] = field(default_factory=dict)


def check_command_line(argv: list[str]) -> int:
    """Raise ConfigError (one line) if any job `argv` would launch is not allowed; return the job count."""
    return plan_command_line(argv).jobs


def plan_command_line(argv: list[str]) -> CommandPlan:
    """As `check_command_line`, with the first job's resolved config (its store settings)."""
    args = hydra_args_parser().parse_args(argv)
    info = [flag for flag in _INFO_FLAGS if getattr(args, flag, None)]
    if args.multirun and info:  # Hydra would raise a ValueError with a traceback
        raise ConfigError(
            f"--{info[0]} cannot be used with -m: drop -m to see one job's (e.g. --{info[0]} job key=value)"
        )
    if info or args.config_dir:
        return CommandPlan(0)  # nothing runs, or configs from elsewhere: each job still validates itself
    config_name = args.config_name or "config"
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        if not args.multirun:
            for override in _read(lambda: sweep_plan.parse(args.overrides), args.overrides):
                if override.is_sweep_override() or sweep_plan.override_key(override) == "sweeps":
                    raise ConfigError(f"{override.input_line} is a sweep: add -m to run one job per value")
            cfg = _check(
                lambda: loader.load_configuration(config_name, args.overrides, RunMode.RUN), args.overrides
            )
            limits.check_folder("hydra.run.dir", _read(lambda: str(cfg.hydra.run.dir), args.overrides))
            return CommandPlan(1, resolved(cfg))
        master = _read(
            lambda: loader.load_configuration(config_name, args.overrides, RunMode.MULTIRUN), args.overrides
        )
        arguments = sweep_plan.sweep_arguments(master)
        if sweep_plan.is_search(master):
            from harness.checks.search import search_axes

            axes = _read(lambda: search_axes(master, arguments), arguments)
        else:
            axes = _read(lambda: sweep_plan.sweep_axes(arguments), arguments)
        for key, values in axes.items():
            if not values:
                raise ConfigError(f"{key} is swept over no value: the sweep would run no job")
        limits.check_folder("hydra.sweep.dir", _read(lambda: str(master.hydra.sweep.dir), args.overrides))
        for key in set(sweep_plan.swept_keys(arguments)) & set(BOOKKEEPING_KEYS):
            raise ConfigError(f"{key} cannot be swept: one sweep is one parent run in one experiment")
        first = _check_sweep(lambda job: loader.load_sweep_config(master, job), axes)
        if sweep_plan.is_search(master):
            return CommandPlan(sweep_plan.planned_jobs(master, arguments), resolved(first))
        return CommandPlan(math.prod(len(values) for values in axes.values()), resolved(first))


def _check_sweep(compose: Callable[[list[str]], DictConfig], axes: dict[str, list[str]]) -> DictConfig:
    first_job = [values[0] for values in axes.values()]
    first = _check(lambda: compose(first_job), first_job)
    # Unresolved, so that `optimizer.lr: ${lr}` follows a changed `lr` as it does in a composed job.
    unresolved = OmegaConf.to_container(first, resolve=False)
    unresolved.pop("hydra", None)
    typed_first = OmegaConf.merge(OmegaConf.structured(Config), unresolved)
    largest = resolved(first)  # the sweep's largest run: each size key at its largest value
    for key, values in axes.items():
        for value in values[1:]:
            job = [value if k == key else v[0] for k, v in axes.items()]
            (override,) = sweep_plan.parse([value])
            if _is_plain_value(override, first):
                checked = _check(lambda override=override: _with_value(typed_first, override), job)
            else:
                checked = _check(lambda job=job: compose(job), job)
            task = resolved(checked)
            largest |= {k: max(largest[k], task[k]) for k in limits.SIZE_KEYS}
    limits.check_memory(largest, [])
    return first


def _is_plain_value(override: Override, cfg: DictConfig) -> bool:
    """`lr=0.1`: sets an existing leaf (no group choice, no `+`/`~`, no package)."""
    if override.is_add() or override.is_delete() or override.is_force_add() or override.package is not None:
        return False
    node = OmegaConf.select(cfg, override.key_or_group, default=None)
    return node is not None and not OmegaConf.is_config(node)


def _with_value(typed: DictConfig, override: Override) -> DictConfig:
    """A copy of the typed config `typed` with the override's value set (OmegaConf checks the type)."""
    changed = copy.deepcopy(typed)
    OmegaConf.update(changed, override.key_or_group, override.value(), merge=True)
    return changed


def _read(load, overrides: list[str]):
    try:
        return load()
    except ConfigError:
        raise
    except Exception as error:  # Hydra and OmegaConf raise many types; each becomes one line
        raise ConfigError(explain_hydra_error(error, overrides)) from error


def _check(load, overrides: list[str]) -> DictConfig:
    cfg = _read(load, overrides)
    task = _read(lambda: resolved(cfg), overrides)
    validate(task, overrides)
    limits.check_lengths(task, overrides)
    limits.check_memory(task, overrides)
    return cfg
