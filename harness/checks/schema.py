"""The config schema: `harness.training.config.Config`, registered as the dataclass Hydra type-checks
every config file and override against.

`conf/config.yaml` extends `base_config` (registered here) and picks one option per group
(`conf/optimizer/`, `conf/init/`, `conf/target/`); named sweeps live in `sweeps/` as the group
`sweeps`. The defaults reproduce the seed post's experiment.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from harness.checks.help_options import group_options
from harness.sweep_context import current_sweep_id
from harness.training.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_ROOT / "conf"
SWEEPS_DIR = REPO_ROOT / "sweeps"

# The config groups: one option each, chosen on the command line as `optimizer=adamw`.
GROUPS = ("optimizer", "init", "target")

# Keys that say where and how a run is recorded, not what it computes: left out of the config hash.
BOOKKEEPING_KEYS = (
    "experiment",
    "resume",
    "report",
    "log_every_n_steps",
    "register",
    "model_name",
    "store_timeout",
    "store_patience",
)


def register_schema() -> None:
    ConfigStore.instance().store(name="base_config", node=Config)
    # `hydra.searchpath` in conf/config.yaml names the repository root this way, so that the
    # folder `sweeps/` is found as the config group `sweeps` from any working directory.
    OmegaConf.register_new_resolver("harness_repo_root", lambda: REPO_ROOT.as_uri(), replace=True)
    # Cached on the config like Hydra's `${now:}`: Hydra copies the cache into every job's config, so
    # a job in another process resolves the launching command's id.
    OmegaConf.register_new_resolver("harness_sweep_id", current_sweep_id, use_cache=True, replace=True)
    # `--help` lists each group's options as Hydra finds them (harness.checks.help_options)
    OmegaConf.register_new_resolver(
        "harness_options", lambda group: group_options(group, SWEEPS_DIR), replace=True
    )


register_schema()


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The job's resolved config as plain data, without Hydra's own `hydra` node: what the checks read."""
    task = {key: cfg[key] for key in cfg if key != "hydra"}
    return OmegaConf.to_container(OmegaConf.create(task), resolve=True)


def task_config(cfg: DictConfig) -> Config:
    """The job's resolved config, typed."""
    return Config.from_data(resolved(cfg))


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"optimizer": {"name": "adam"}, "lr": 0.1}` -> `{"optimizer.name": "adam", "lr": 0.1}`."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def run_params(task: dict[str, Any], choices: dict[str, str]) -> dict[str, Any]:
    """What a run records as params: every value, flattened (`init.name` aside), each config group as
    its option's name (`optimizer=adamw`) beside the option's own settings (`optimizer.eps`), without
    its `_target_`/`_partial_` or the top-level values it takes (`optimizer.lr` is `lr`)."""
    params = {}
    for key, value in task.items():
        if key in GROUPS:
            params[key] = choices.get(key) or value.get("name")
            own = {k: v for k, v in value.items() if not k.startswith("_") and k != "name" and k not in task}
            params.update(flatten(own, f"{key}."))
        elif isinstance(value, dict):
            params.update(flatten(value, f"{key}."))
        else:
            params[key] = value
    return params


def config_hash(data: dict[str, Any]) -> str:
    """sha256 (16 hex digits) of the resolved config without the bookkeeping keys."""
    essential = {k: v for k, v in data.items() if k not in BOOKKEEPING_KEYS}
    text = json.dumps(essential, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
