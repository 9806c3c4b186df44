"""Train many configs at once, each exactly as `train(config)` would alone. Knows nothing of MLflow or Hydra.

`train_many(configs, on_progress)` returns one `TrainResult` per config, in order. Configs with equal
`shared_key` (same width, depth, steps, batch size, optimizer kind, init, target, ...) train as one
model on the engine's runs axis (`harness.training.loop.train_runs`), in slices that fit a core's cache.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from harness.training.config import Config
from harness.training.loop import PER_RUN_OPTIMIZER_KEYS, ProgressCallback, TrainResult, train_runs

# What may differ between the runs of one batch: the seed (its own initial weights and inputs), the
# optimizer's per-run hyperparameters, and what only says how a run is recorded.
PER_RUN_KEYS = frozenset(
    {"seed", "lr", "betas", "weight_decay", "experiment", "resume", "report", "log_every_n_steps"}
)

# The most bytes a batch's flat parameter array may take. An optimizer step reads and writes that
# array and its state about 17 times; once they outgrow a core's L2 cache (512 KiB here) the memory
# traffic, not the arithmetic, sets the pace: 32 width-128 networks in one batch trained no faster
# than one after another, slices of 4-8 of them in 0.6-0.7x the time (benchmarks/batch_slices.py).
SLICE_BYTES = 1 << 20


def shared_key(config: Config) -> str:
    """What a batch's configs must share, as a string: configs with equal keys can be trained together."""
    shared = {key: value for key, value in asdict(config).items() if key not in PER_RUN_KEYS}
    shared["optimizer"] = {k: v for k, v in config.optimizer.items() if k not in PER_RUN_OPTIMIZER_KEYS}
    return json.dumps(shared, sort_keys=True, default=str)


def parameter_count(config: Config) -> int:
    """The number of parameters of the config's network: 1 -> width x depth -> 1, each layer with a bias."""
    sizes = [1, *[config.width] * config.depth, 1]
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True))


def runs_per_slice(config: Config) -> int:
    """How many runs of the config's shape train in one batch (see SLICE_BYTES)."""
    return max(1, SLICE_BYTES // (8 * parameter_count(config)))


def train_many(
    configs: Sequence[Config], on_progress: Sequence[ProgressCallback | None] | None = None
) -> list[TrainResult]:
    """Train every config; `on_progress[i](step, losses)` is config i's callback, as in `train`."""
    callbacks = list(on_progress) if on_progress is not None else [None] * len(configs)
    if len(callbacks) != len(configs):
        raise ValueError(f"train_many: {len(configs)} configs but {len(callbacks)} progress callbacks")
    groups: dict[str, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(shared_key(config), []).append(index)
    results: list[TrainResult | None] = [None] * len(configs)
    for indices in groups.values():
        size = runs_per_slice(configs[indices[0]])
        for start in range(0, len(indices), size):
            batch = indices[start : start + size]
            trained = train_runs([configs[i] for i in batch], [callbacks[i] for i in batch])
            for index, result in zip(batch, trained, strict=True):
                results[index] = result
    return results
