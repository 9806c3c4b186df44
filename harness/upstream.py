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
