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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.types import Override
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from harness.checks import limits, sweep_plan
from harness.checks.schema import BOOKKEEPING_KEYS, CONF_DIR, flatten, resolved
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
        # `rerun=<id>,<id>`: each job records as its stored run did (harness.rerun.command_line)
        for key in set(sweep_plan.swept_keys(arguments)) & set(BOOKKEEPING_KEYS) - {"rerun"}:
            raise ConfigError(f"{key} cannot be swept: one sweep is one parent run in one experiment")
        first = _check_sweep(lambda job: loader.load_sweep_config(master, job), axes)
        if sweep_plan.is_search(master):
            return CommandPlan(sweep_plan.planned_jobs(master, arguments), resolved(first))
        return CommandPlan(math.prod(len(values) for values in axes.values()), resolved(first))


def _check_sweep(compose: Callable[[list[str]], DictConfig], axes: dict[str, list[str]]) -> DictConfig:
    first_job = [values[0] for values in axes.values()]
    first = _check(lambda: compose(first_job), first_job)
    typed_first = typed_unresolved(first)
    largest = resolved(first)  # the sweep's largest run: each size key at its largest value
    numbers = PlainNumbers(typed_first, largest)
    for key, values in axes.items():
        for value in values[1:]:
            job = [value if k == key else v[0] for k, v in axes.items()]
            task = numbers.checked(value, job)
            if task is None:
                (override,) = sweep_plan.parse([value])
                if _is_plain_value(override, first):
                    checked = _check(lambda override=override: _with_value(typed_first, override), job)
                else:
                    checked = _check(lambda job=job: compose(job), job)
                task = resolved(checked)
            largest |= {k: max(largest[k], task[k]) for k in limits.SIZE_KEYS}
    limits.check_memory(largest, [])
    return first


# Hydra's grammar for a plain number (without its `_` digit separators, which take the slow path)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?(([0-9]+\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)")


class PlainNumbers:
    """The check of `key=<number>` on a leaf of the first job, without Hydra's parser or a composition:
    the number typed by the leaf's own OmegaConf node, set in a copy of the first job's resolved data
    with the keys that follow it (`optimizer.lr: ${lr}`), then validated as a composed job is.
    A sweep of 20,000 seeds is checked in seconds instead of an hour (~0.1 s a value composed).

    `checked(override, job)` is the task, or None when this shortcut does not apply (not a number, a
    key that other interpolations use, anything unusual): the caller then composes the job. A refusal
    is left to that composition too, so that its line is the one a composed job gives."""

    def __init__(self, typed_first: DictConfig, first_task: dict[str, Any]):
        self.typed_first, self.first_task = typed_first, first_task
        self.unresolved = flatten(OmegaConf.to_container(typed_first, resolve=False))
        self.followers: dict[str, list[str] | None] = {}

    def checked(self, override: str, job: list[str]) -> dict[str, Any] | None:
        key, _, text = override.partition("=")
        if not _KEY.fullmatch(key) or key not in self.unresolved:
            return None
        number = int(text) if _INT.fullmatch(text) else float(text) if _FLOAT.fullmatch(text) else None
        followers = self._followers(key)
        if number is None or followers is None:
            return None
        try:
            node = self.typed_first
            for part in key.split("."):
                node = node._get_node(part)
            value = type(node)(value=number, is_optional=node._is_optional())._value()
        except Exception:  # not a leaf, not a number of its type: composed, Hydra says why
            return None
        task = dict(self.first_task)  # copied along each changed key's path only: the rest is shared, read
        for name in (key, *followers):
            *parents, leaf = name.split(".")
            place = task
            for parent in parents:
                place[parent] = dict(place[parent])
                place = place[parent]
            place[leaf] = value
        try:
            validate(task, job)
            limits.check_lengths(task, job)
            if key in limits.SIZE_KEYS:
                limits.check_memory(task, job)
        except ConfigError:
            return None
        return task

    def _followers(self, key: str) -> list[str] | None:
        """The keys whose value is `${key}`; None if `key` is itself an interpolation, or another
        interpolation mentions it."""
        if key not in self.followers:
            reference = "${" + key + "}"
            interpolations = {k: v for k, v in self.unresolved.items() if isinstance(v, str) and "${" in v}
            followers = [k for k, v in interpolations.items() if v == reference]
            mentions = [k for k, v in interpolations.items() if v != reference and key in v]
            self.followers[key] = None if mentions or key in interpolations else followers
        return self.followers[key]


def typed_unresolved(cfg: DictConfig) -> DictConfig:
    """The job's config without `hydra`, typed by the schema and unresolved, so that `optimizer.lr:
    ${lr}` follows a changed `lr` as it does in a composed job."""
    unresolved = OmegaConf.to_container(cfg, resolve=False)
    unresolved.pop("hydra", None)
    return OmegaConf.merge(OmegaConf.structured(Config), unresolved)


def _is_plain_value(override: Override, cfg: DictConfig) -> bool:
    """`lr=0.1`: sets an existing leaf (no group choice, no `+`/`~`, no package)."""
    if override.is_add() or override.is_delete() or override.is_force_add() or override.package is not None:
        return False
    absent = object()  # a leaf may hold None (`rerun`): still a leaf
    node = OmegaConf.select(cfg, override.key_or_group, default=absent)
    return node is not absent and not OmegaConf.is_config(node)


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
