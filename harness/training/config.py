"""What one training run takes: the typed config the job builds from Hydra's resolved config.

It is also the schema Hydra type-checks every config file and override against
(`harness.checks.schema` registers it); training reads it and knows nothing of Hydra.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from omegaconf import MISSING


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
