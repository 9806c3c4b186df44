"""Train many configs at once, each exactly as `train(task)` would alone. Knows nothing of MLflow or Hydra.

`train_many(tasks, on_progress)` returns one `TrainResult` per task, in order. Tasks that share
everything but what the engine's runs axis lets differ (`shared_key`) are meant to be trained as
one batched computation; each task's `train_seconds` is its share of the batch's time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness.runner.training import ProgressCallback, TrainResult, train

# What may differ between the runs of one batch: the seed (its own initial weights and inputs), the
# optimizer's per-run hyperparameters, and what only says how a run is recorded.
PER_RUN_KEYS = frozenset(
    {"seed", "lr", "betas", "weight_decay", "experiment", "resume", "report", "log_every_n_steps"}
)
PER_RUN_OPTIMIZER_KEYS = frozenset({"eps", "momentum"})


def shared_key(task: dict[str, Any]) -> str:
    """What a batch's tasks must share (width, depth, steps, batch size, optimizer kind, init, target,
    ...), as a string: tasks with equal keys can be trained together."""
    shared = {key: value for key, value in task.items() if key not in PER_RUN_KEYS}
    if isinstance(shared.get("optimizer"), dict):
        shared["optimizer"] = {
            k: v for k, v in shared["optimizer"].items() if k not in PER_RUN_OPTIMIZER_KEYS
        }
    return json.dumps(shared, sort_keys=True, default=str)


def train_many(
    tasks: Sequence[dict[str, Any]], on_progress: Sequence[ProgressCallback | None] | None = None
) -> list[TrainResult]:
    """Train every task; `on_progress[i](step, losses)` as `train`'s callback for task i."""
    callbacks = list(on_progress) if on_progress is not None else [None] * len(tasks)
    return [train(task, callback) for task, callback in zip(tasks, callbacks, strict=True)]
