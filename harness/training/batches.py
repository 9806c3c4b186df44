"""Train many configs at once, each exactly as `train(task)` would alone. Knows nothing of MLflow or Hydra.

`train_many(tasks, on_progress)` returns one `TrainResult` per task, in order. Tasks with equal
`shared_key` (same width, depth, steps, batch size, optimizer kind, init, target, ...) train as one
model on the engine's runs axis (`MLP.stacked`): run r's parameters and then its inputs are drawn from
`default_rng(seed_r)` as `train` draws them, and its optimizer gets its own lr, betas, weight decay,
eps and momentum, so its numbers are those of its run alone. A run whose loss stops being finite is
left out of every later step (`optimizer.step(active)`) and reported at its own step; the others go on.
A run whose `on_progress` raises `StopTraining` (a search's pruner) is left out the same way, its result
ending at that step. Each task's `train_seconds` is its share of its batch's time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from hydra.utils import get_method

from engine import Constant, Mean, Square, Variable
from engine.nn import MLP
from harness.training.loop import (
    EVAL_X,
    PROGRESS_EVERY,
    ProgressCallback,
    StopTraining,
    TrainResult,
    divergence,
    final_progress,
    train,
)
from harness.training.targets import TARGETS

# What may differ between the runs of one batch: the seed (its own initial weights and inputs), the
# optimizer's per-run hyperparameters, and what only says how a run is recorded.
PER_RUN_KEYS = frozenset(
    {"seed", "lr", "betas", "weight_decay", "experiment", "resume", "report", "log_every_n_steps"}
)
PER_RUN_OPTIMIZER_KEYS = frozenset({"lr", "betas", "weight_decay", "eps", "momentum"})

# The most bytes a batch's flat parameter array may take. An optimizer step reads and writes that
# array and its state about 17 times; once they outgrow a core's L2 cache (512 KiB here) the memory
# traffic, not the arithmetic, sets the pace: 32 width-128 networks in one batch trained no faster
# than one after another, slices of 4-8 of them in 0.6-0.7x the time (benchmarks/batch_slices.py).
SLICE_BYTES = 1 << 20


def shared_key(task: dict[str, Any]) -> str:
    """What a batch's tasks must share, as a string: tasks with equal keys can be trained together."""
    shared = {key: value for key, value in task.items() if key not in PER_RUN_KEYS}
    if isinstance(shared.get("optimizer"), dict):
        optimizer = shared["optimizer"]
        shared["optimizer"] = {k: v for k, v in optimizer.items() if k not in PER_RUN_OPTIMIZER_KEYS}
    return json.dumps(shared, sort_keys=True, default=str)


def parameter_count(task: dict[str, Any]) -> int:
    """The number of parameters of the task's network: 1 -> width x depth -> 1, each layer with a bias."""
    sizes = [1, *[task["width"]] * task["depth"], 1]
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True))


def runs_per_slice(task: dict[str, Any]) -> int:
    """How many runs of the task's shape train in one batch (see SLICE_BYTES)."""
    return max(1, SLICE_BYTES // (8 * parameter_count(task)))


def in_slices(indices: list[int], task: dict[str, Any]) -> list[list[int]]:
    """One group's task indices, cut into batches of `runs_per_slice(task)`."""
    size = runs_per_slice(task)
    return [indices[start : start + size] for start in range(0, len(indices), size)]


def train_many(
    tasks: Sequence[dict[str, Any]], on_progress: Sequence[ProgressCallback | None] | None = None
) -> list[TrainResult]:
    """Train every task; `on_progress[i](step, losses)` is task i's callback, as in `train`."""
    callbacks = list(on_progress) if on_progress is not None else [None] * len(tasks)
    if len(callbacks) != len(tasks):
        raise ValueError(f"train_many: {len(tasks)} tasks but {len(callbacks)} progress callbacks")
    groups: dict[str, list[int]] = {}
    for index, task in enumerate(tasks):
        groups.setdefault(shared_key(task), []).append(index)
    results: list[TrainResult | None] = [None] * len(tasks)
    slices = [slice_ for indices in groups.values() for slice_ in in_slices(indices, tasks[indices[0]])]
    for indices in slices:
        batch, batch_callbacks = [tasks[i] for i in indices], [callbacks[i] for i in indices]
        if len(batch) > 1:  # one model on the engine's runs axis
            trained = train_batch(batch, batch_callbacks)
        else:
            trained = [train(task, callback) for task, callback in zip(batch, batch_callbacks, strict=True)]
        for index, result in zip(indices, trained, strict=True):
            results[index] = result
    return results


def _per_run(tasks: Sequence[dict[str, Any]], key: str):
    values = [task["optimizer"][key] for task in tasks]
    if key == "betas":
        pairs = np.array(values, dtype=float)
        return (pairs[:, 0], pairs[:, 1])
    return np.array(values, dtype=float)


def batched_optimizer(tasks: Sequence[dict[str, Any]], model: MLP):
    """The optimizer the tasks' `optimizer` option names (`_target_`), one value per run for every
    argument the option gives."""
    option = tasks[0]["optimizer"]
    arguments = {key: _per_run(tasks, key) for key in option if not key.startswith("_")}
    return get_method(option["_target_"])(model.parameters(), **arguments)


def _single_graph_dot(model: MLP, x: np.ndarray, target) -> str:
    """The DOT text of one run's last graph, as `train` gives it: the single network's graph (its
    labels show the input and target values, not the parameters' values) on that step's input."""
    return Mean(Square(model(Variable(x)) - Constant(target(x)))).pretty_print_dot_graph()


def train_batch(tasks: Sequence[dict[str, Any]], callbacks: Sequence[ProgressCallback | None]) -> list:
    """Tasks of one `shared_key`, as one model with a runs axis."""
    first, runs = tasks[0], len(tasks)
    rngs = [np.random.default_rng(task["seed"]) for task in tasks]
    hidden = [first["width"]] * first["depth"]
    model = MLP.stacked(
        1, hidden, 1, rngs, negative_slope=first["negative_slope"], init=first["init"]["name"]
    )
    optimizer = batched_optimizer(tasks, model)
    target = TARGETS[first["target"]["name"]]
    steps = first["steps"]
    xs = np.stack([rng.uniform(-1.0, 1.0, size=(steps, first["batch_size"], 1)) for rng in rngs], axis=1)
    ys = target(xs)
    losses = np.empty((runs, steps))  # a row per run: each run's curve is a contiguous view
    active = np.ones(runs, dtype=bool)
    failure_step: list[int | None] = [None] * runs
    failure_reason: list[str | None] = [None] * runs
    stop_reason: list[str | None] = [None] * runs
    done = np.full(runs, steps)  # steps each run trained
    seed_gradient = np.ones(runs)
    factor = first["divergence_factor"]
    started = time.perf_counter()
    with np.errstate(all="ignore"):  # divergence is detected and reported below; frozen runs' numbers unused
        for step in range(steps):
            loss = Mean(Square(model(Variable(xs[step])) - Constant(ys[step])), axis=(1, 2))
            values = loss.values
            diverged = active & ~np.isfinite(values)
            if step:  # as `train`: past divergence_factor x the run's first loss
                diverged |= active & (values > factor * np.maximum(losses[:, 0], np.finfo(float).tiny))
            for run in np.flatnonzero(diverged):
                first_loss = float(losses[run, 0]) if step else None
                failure_step[run] = done[run] = step
                failure_reason[run] = divergence(float(values[run]), first_loss, factor)
            active &= ~diverged
            if not active.any():
                break
            losses[:, step] = values
            loss.backward(seed_gradient)
            optimizer.step(None if active.all() else active)
            if step % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                for run in np.flatnonzero(active):
                    if callbacks[run] is not None:
                        try:
                            callbacks[run](step, losses[run, : step + 1])
                        except StopTraining as stop:  # this run only: the others go on
                            stop_reason[run], done[run], active[run] = stop.reason, step + 1, False
                if not active.any():
                    break
        share = (time.perf_counter() - started) / runs
        predictions = model(Variable(np.broadcast_to(EVAL_X, (runs, *EVAL_X.shape)))).values[:, :, 0]
    single = MLP(1, hidden, 1, negative_slope=first["negative_slope"], init=first["init"]["name"], rng=0)
    results = []
    for run in range(runs):
        trained = int(done[run])
        final_progress(callbacks[run], trained - 1, losses[run, :trained])
        result = TrainResult(
            losses=losses[run, :trained].copy(),
            train_seconds=share,
            failure_step=failure_step[run],
            failure_reason=failure_reason[run],
            stop_reason=stop_reason[run],
            graph_dot=_single_graph_dot(
                single, xs[trained if failure_step[run] is not None else trained - 1, run], target
            ),
        )
        if result.completed:
            result.parameters = model.run_parameters(run)
            result.eval_pred = predictions[run].copy()
            result.eval_target = target(EVAL_X)[:, 0]
        results.append(result)
    return results
