"""The sweeper's config: `hydra/sweeper=optuna`, with samplers in `hydra/sweeper/sampler` and pruners in
`hydra/sweeper/pruner`, each an Optuna class built from its `_target_`.

    python -m harness.run -m hydra/sweeper=optuna 'lr=tag(log,interval(1e-4,1e-1))' hydra.sweeper.n_trials=48
    ... hydra/sweeper/sampler=random|gp|grid  hydra/sweeper/pruner=none|successive_halving|hyperband
"""

# No `from __future__ import annotations`: Hydra's plugin scan runs this module outside sys.modules,
# where dataclasses cannot resolve string annotations; and OmegaConf reads these types.
from dataclasses import dataclass, field
from typing import Any  # noqa: UP035 (OmegaConf reads typing's forms)

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from harness.search.names import SWEEPER_TARGET

GRID_TARGET = "harness.search.samplers.OrderedGridSampler"


@dataclass
class TPESamplerConf:
    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = 0  # offset by the trials already in the study, so a resumed study draws anew
    n_startup_trials: int = 10
    multivariate: bool = True
    constant_liar: bool = True  # trials asked together (n_jobs) spread out instead of piling up


@dataclass
class RandomSamplerConf:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = 0


@dataclass
class GPSamplerConf:
    """Optuna's GPSampler needs torch (`pip install torch`): not installed with the harness."""

    _target_: str = "optuna.samplers.GPSampler"
    seed: int | None = 0
    n_startup_trials: int = 10


@dataclass
class GridSamplerConf:
    """The grid is the search space's every point, run in the order Hydra's basic sweeper would."""

    _target_: str = GRID_TARGET
    seed: int | None = 0


@dataclass
class MedianPrunerConf:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5  # finished trials before anything is pruned
    n_warmup_steps: int = 500  # training steps before a trial can be pruned
    interval_steps: int = 1


@dataclass
class SuccessiveHalvingPrunerConf:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = 500  # training steps of the first rung
    reduction_factor: int = 3
    min_early_stopping_rate: int = 0


@dataclass
class HyperbandPrunerConf:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 500
    max_resource: Any = "auto"  # the steps of the longest trial seen
    reduction_factor: int = 3


@dataclass
class NopPrunerConf:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class OptunaSweeperConf:
    _target_: str = SWEEPER_TARGET
    _recursive_: bool = (
        False  # the sweeper builds its sampler (a grid needs the space) and the jobs the pruner
    )
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "median"}])
    sampler: Any = MISSING  # from the defaults list (MISSING: not overriding what it picks)
    pruner: Any = MISSING
    objective: str = "eval_mse"  # a metric every finished job returns (harness.job.job.run_job)
    direction: str = "minimize"  # or maximize
    n_trials: int = 20  # trials the study should hold when done: a rerun continues up to it
    n_jobs: int = 2  # trials in flight at once, through the configured launcher
    seeds_per_trial: int = 1  # > 1: each trial trains these many seeds and its value is their mean
    seed_key: str = "seed"
    report_every: int = 100  # training steps between a job's reports to its trial (pruning checks)
    # None: a sqlite file `optuna.db` beside the MLflow sqlite store (or in the working directory).
    # Else any Optuna RDB URL (sqlite:///..., postgresql://...), or `journal:<path>` for a journal file.
    storage: str | None = None
    study_name: str | None = None  # None: named after the experiment and a hash of the search space
    max_failure_rate: float = 0.0  # share of a batch's jobs that may raise before the search stops
    params: dict[str, str] | None = None  # the search space in a config file (named searches)


def register() -> None:
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="harness")
    samplers = {
        "tpe": TPESamplerConf,
        "random": RandomSamplerConf,
        "gp": GPSamplerConf,
        "grid": GridSamplerConf,
    }
    for name, node in samplers.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider="harness")
    pruners = {
        "median": MedianPrunerConf,
        "successive_halving": SuccessiveHalvingPrunerConf,
        "hyperband": HyperbandPrunerConf,
        "none": NopPrunerConf,
    }
    for name, node in pruners.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=node, provider="harness")


register()
