"""The private APIs of Hydra, MLflow and Optuna the harness uses where no public one does the job: one
wrapper each, with the upstream issue asking for a public way. tests/test_upstream.py fails on an
upgrade that breaks one of them, instead of the harness breaking silently.

Imports stay inside the wrappers: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


def hydra_args_parser():
    """Hydra's own `argparse` parser of a command line (`-m`, `--cfg`, `--config-name`, overrides), so
    that the preflight reads a command line exactly as Hydra will.

    Private: `hydra._internal.utils.get_args_parser`. Hydra keeps its parser internal by design: the
    requests to parse or extend its command line were closed wontfix
    (https://github.com/hydra-ecosystem/hydra/issues/1578,
    https://github.com/hydra-ecosystem/hydra/issues/215), its maintainer advising against relying on
    internals (https://github.com/hydra-ecosystem/hydra/issues/654)."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


@contextlib.contextmanager
def fluent_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at `uri` for the block (`Model.log`, which has no client form, reads
    it), then exactly what was there put back: a URI that was not set stays unset, so that
    MLFLOW_TRACKING_URI keeps ruling later (the public `mlflow.set_tracking_uri` cannot unset it).

    Private: `mlflow.tracking._tracking_service.utils._use_tracking_uri`. Upstream: a `log_model` on
    `MlflowClient`, which would take its tracking URI from the client
    (https://github.com/mlflow/mlflow/issues/7392, open; https://github.com/mlflow/mlflow/pull/11906)."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    environment = os.environ.get("MLFLOW_TRACKING_URI")  # unset on the way out when no URI was set
    try:
        with _use_tracking_uri(uri):
            yield
    finally:
        if environment is not None:
            os.environ["MLFLOW_TRACKING_URI"] = environment


def walk_grid_in_given_order(sampler: Any, search_space: Mapping[str, Sequence]) -> None:
    """Make Optuna's GridSampler `sampler` (made from `search_space`) take its first points in the order
    of the product of `search_space`'s values, keys in the order given, not shuffled: the order Hydra's
    basic sweeper runs a grid in.

    Private: `GridSampler._param_names` (the keys, sorted) and `_all_grids` (the points, shuffled by
    the seed); trial n < the grid's size takes point n. Optuna has no option for an unshuffled grid
    (https://github.com/optuna/optuna/issues/4202, closed as stale; its maintainers point to
    `enqueue_trial`, which would leave the points without the grid id that lets a resumed or shared
    study take the points left: https://github.com/optuna/optuna/issues/2210)."""
    import itertools

    given = list(search_space)
    position = [given.index(name) for name in sampler._param_names]
    sampler._all_grids = [
        tuple(point[i] for i in position) for point in itertools.product(*search_space.values())
    ]


def print_hydra_app_help(args: Any, config_dir: str, config_name: str, task_name: str = "run") -> None:
    """Print what Hydra prints for `--help` with the parsed command line `args`, the config groups
    listed from the loader's own repository: Hydra's `ConfigLoaderImpl.get_group_options` lists from a
    fresh `CachingConfigRepository`, a deep copy of the whole ConfigStore (~30 ms here), and `--help`
    lists ~80 times (every group of Hydra's and the project's, twice), ~3 s. Without a primary config or
    overrides, nothing can change the search path, so the repository as it is lists the same options.

    Private: `hydra._internal.hydra.Hydra` (`app_help`), `hydra._internal.config_loader_impl.
    ConfigLoaderImpl` and `hydra._internal.utils.create_config_search_path`. Upstream: the deep copy
    guards the repository against `initialize_sources` (https://github.com/hydra-ecosystem/hydra/pull/1541);
    an app's help that takes minutes was closed without a change
    (https://github.com/hydra-ecosystem/hydra/issues/2907)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.object_type import ObjectType

    class ListingConfigLoader(ConfigLoaderImpl):
        def get_group_options(
            self,
            group_name: str,
            results_filter: ObjectType | None = ObjectType.CONFIG,
            config_name: str | None = None,
            overrides: list[str] | None = None,
        ) -> list[str]:
            if config_name is None and not overrides:
                return self.repository.get_group_options(group_name, results_filter)
            return super().get_group_options(group_name, results_filter, config_name, overrides)

    loader = ListingConfigLoader(config_search_path=create_config_search_path(config_dir))
    hydra = Hydra(task_name=task_name, config_loader=loader)
    GlobalHydra.instance().initialize(hydra)
    try:
        hydra.app_help(config_name=config_name, args_parser=hydra_args_parser(), args=args)
    finally:
        GlobalHydra.instance().clear()
