"""The config schema: dataclasses Hydra type-checks every config file and override against.

`conf/config.yaml` extends `base_config` (registered here) and picks one option per group
(`conf/optimizer/`, `conf/init/`, `conf/target/`); named sweeps live in `sweeps/` as the group
`sweeps`. The defaults reproduce the seed post's experiment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from harness.checks.help_options import group_options
from harness.sweep_context import current_sweep_id

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


@dataclass
class InitConfig:
    name: str = "seed"  # "seed": every weight and bias uniform in [0, 1); "kaiming": U(+-1/sqrt(fan_in))


@dataclass
class TargetConfig:
    name: str = "seed"  # a key of harness.training.targets.TARGETS


@dataclass
class Config:
    # An optimizer option names its class (`_target_`, partial) with only the arguments it takes; the
    # job instantiates it on the model's parameters. Its lr, betas and weight_decay are `${lr}`, ...
    optimizer: Any = MISSING
    init: InitConfig = field(default_factory=InitConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.9])
    weight_decay: float = 1e-3
    width: int = 64
    depth: int = 2  # hidden layers, each `width` wide: 1 -> 64 -> 64 -> 1
    negative_slope: float = 0.1
    steps: int = 3000
    batch_size: int = 1
    seed: int = 0
    divergence_factor: float = 1e6  # a loss past this many times the first loss ends the run FAILED
    experiment: str = "autograd-mlp"
    resume: bool = False
    report: bool = True
    store_timeout: float = 10.0  # seconds to reach the store before any job starts
    store_patience: float = 120.0  # seconds a job keeps retrying a store that went away
    # the `loss` metric in MLflow: one point per this many steps, each the mean of its window (the run's
    # curve.npz artifact keeps every step); 1 logs every step
    log_every_n_steps: int = 10
    register: bool = True  # at the end of a sweep, the best run's network as a registered MLflow model
    model_name: str = "autograd-mlp"  # ... under this name in the Model Registry

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Config:
        """A resolved config's plain data (`task_config`, a run's stored `config.yaml`) as a Config."""
        return cls(**data | {"init": InitConfig(**data["init"]), "target": TargetConfig(**data["target"])})

    def as_data(self) -> dict[str, Any]:
        """Plain data, as Hydra resolved it: what is hashed, validated, logged and written."""
        return asdict(self)


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
