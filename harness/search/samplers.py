"""Optuna's GridSampler, walking the grid in the order Hydra's basic sweeper would."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from optuna.samplers import GridSampler

from harness.upstream import walk_grid_in_given_order


class OrderedGridSampler(GridSampler):
    """The product of the keys' values in the order they were given, not shuffled, so a grid search
    runs its jobs as the same grid swept by Hydra's basic sweeper would (and Hydra's
    BatchedSweeperTestSuite expects). A resumed or shared study still takes the points left, as
    GridSampler does. The sweeper stops at the grid's size, so the sampler never stops the study."""

    def __init__(self, search_space: Mapping[str, Sequence], seed: int | None = None) -> None:
        super().__init__(search_space, seed)
        walk_grid_in_given_order(self, search_space)

    def after_trial(self, study, trial, state, values) -> None:
        pass  # GridSampler calls study.stop() here, which only works inside study.optimize


# the `_target_` of `hydra.sweeper.sampler` that asks for a grid (the sweeper's config repeats the
# string, so that Hydra's plugin scan need not import Optuna; a test holds the two equal)
GRID_TARGET = f"{OrderedGridSampler.__module__}.{OrderedGridSampler.__qualname__}"
