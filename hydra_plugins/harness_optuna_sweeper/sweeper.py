"""The sweeper Hydra instantiates for `hydra/sweeper=optuna` (config: `config.py`). Hydra imports every
module of this package when it scans for plugins, on every run: this one imports only Hydra, and the
search itself (`harness.search.driver`, with Optuna and MLflow) is loaded when a search is asked for."""

from typing import Any, List  # noqa: UP035

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from harness.search.driver import SearchDriver

        self.driver = SearchDriver(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.driver.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.config, self.hydra_context, self.launcher = config, hydra_context, self.driver.launcher

    def sweep(self, arguments: List[str]) -> Any | None:  # noqa: UP006
        return self.driver.sweep(arguments)
