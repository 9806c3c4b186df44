"""A job's config, checked and typed, with what its run records about it: its params and its hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from harness.checks.schema import config_hash, resolved, run_params
from harness.checks.validation import validate
from harness.training.config import Config


@dataclass(frozen=True)
class JobConfig:
    config: Config
    params: dict[str, Any]  # what the run records as params (`run_params`)
    digest: str  # `config_hash`: how resume finds an identical config


def job_config(cfg: DictConfig, overrides: list[str], choices: dict[str, str]) -> JobConfig:
    """Raise ConfigError (one line) if the job's values are not allowed, else its typed config."""
    data = resolved(cfg)
    params, digest = run_params(data, choices), config_hash(data)
    validate(data, overrides)
    return JobConfig(Config.from_data(data), params, digest)
