"""Hydra's basic sweeper (same jobs, same order, same batches, same `hydra.sweeper.params` and
`max_batch_size`), minus `validate_batch_is_legal`.

That check composes every job's config once more before the launcher composes it again (~0.14 s a job
here, serially, in the launching process: a 20,000-job sweep started no job in 10 minutes). The
harness's preflight (`harness.checks.preflight`) has already refused, with one line and before
anything was written, every value any job of the sweep would get, so the second composition finds
nothing new. `hydra/sweeper=basic` still selects Hydra's own class, check included.
"""

from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence  # noqa: UP035 (OmegaConf reads typing's forms)

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore


@dataclass
class PrecheckedSweeperConf:
    _target_: str = "hydra_plugins.harness_basic_sweeper.sweeper.PrecheckedSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045
    params: Optional[Dict[str, str]] = field(default=None)  # noqa: UP006, UP045


class PrecheckedSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Checked already, value by value, by the preflight (see the module's docstring)."""


ConfigStore.instance().store(
    group="hydra/sweeper", name="prechecked", node=PrecheckedSweeperConf, provider="harness"
)

__all__ = ["PrecheckedSweeper", "PrecheckedSweeperConf"]
