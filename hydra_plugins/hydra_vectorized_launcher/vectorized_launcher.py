"""The Launcher plugin class; the work is in `_core`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class VectorizedLauncher(Launcher):
    def __init__(self, n_jobs: int = -1, max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError(f"hydra.launcher.max_batch={max_batch} is not allowed: it must be >= 1")
        self.n_jobs, self.max_batch = n_jobs, max_batch
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from hydra_plugins.hydra_vectorized_launcher import _core

        return _core.launch(self, job_overrides, initial_job_idx)
