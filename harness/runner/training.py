"""Train the MLP a config describes and say what happened. Knows nothing of MLflow or Hydra's runtime.

One numpy Generator seeded with `seed` draws the initial parameters, then the training inputs
(uniform on [-1, 1]), a chunk of steps at a time; each step builds the engine's graph for
`Mean(Square(mlp(x) - y))`, runs backward and the optimizer. A loss that is not finite, or past
`divergence_factor` times the first loss, stops training at once. The evaluation uses the seed
post's plot grid: 200 points from -1 in steps of 0.01.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hydra.utils import instantiate

from engine import Constant, Mean, Square, Variable
from engine.nn import MLP
from harness.runner.targets import TARGETS

EVAL_X = (np.arange(200) / 100.0 - 1.0).reshape(-1, 1)  # the seed's x_test_vals
FINAL_WINDOW = 100  # final_loss is the mean of the last this-many steps
PROGRESS_EVERY = 100  # steps between calls of `on_progress`
INPUT_CHUNK = 2**20  # training inputs drawn at a time (8 MB)

ProgressCallback = Callable[[int, np.ndarray], None]


@dataclass
class TrainResult:
    losses: np.ndarray  # one per completed step; a diverged run ends before its non-finite loss
    train_seconds: float
    failure_step: int | None = None
    failure_reason: str | None = None
    graph_dot: str = ""
    parameters: dict[str, np.ndarray] = field(default_factory=dict)
    eval_x: np.ndarray = field(default_factory=lambda: EVAL_X[:, 0])
    eval_pred: np.ndarray | None = None
    eval_target: np.ndarray | None = None

    @property
    def diverged(self) -> bool:
        return self.failure_step is not None

    @property
    def final_loss(self) -> float:
        return float(np.mean(self.losses[-FINAL_WINDOW:]))

    @property
    def eval_mse(self) -> float:
        return float(np.mean((self.eval_pred - self.eval_target) ** 2))

    @property
    def eval_max_abs_err(self) -> float:
        return float(np.max(np.abs(self.eval_pred - self.eval_target)))


def build_model(task: dict[str, Any], rng: np.random.Generator) -> MLP:
    hidden = [task["width"]] * task["depth"]
    return MLP(1, hidden, 1, negative_slope=task["negative_slope"], init=task["init"]["name"], rng=rng)


def build_optimizer(task: dict[str, Any], parameters):
    """The optimizer the config's `optimizer` option names (`_target_`, partial), on `parameters`."""
    return instantiate(task["optimizer"])(parameters)


def draw_inputs(rng: np.random.Generator, steps: int, batch_size: int) -> Iterator[np.ndarray]:
    """Each step's batch `[batch_size, 1]`, uniform on [-1, 1], drawn INPUT_CHUNK values at a time: the
    same numbers as one `(steps, batch_size, 1)` draw, without holding them all (1e9 steps: 8 GB)."""
    chunk_steps = max(1, INPUT_CHUNK // batch_size)
    for start in range(0, steps, chunk_steps):
        yield from rng.uniform(-1.0, 1.0, size=(min(chunk_steps, steps - start), batch_size, 1))


def divergence(loss: float, first: float | None, factor: float) -> str | None:
    """Why `loss` means the run diverged (not finite, or past `factor` x the first loss), else None."""
    if not math.isfinite(loss):
        return f"loss is {loss}"
    if first is not None and loss > factor * max(first, np.finfo(float).tiny):
        return f"loss {loss:.3g} > divergence_factor {factor:g} x first loss {first:.3g}"
    return None


def train(task: dict[str, Any], on_progress: ProgressCallback | None = None) -> TrainResult:
    """Train as `task` (a resolved config as plain data) says; `on_progress(step, losses_so_far)` is
    called every PROGRESS_EVERY steps and at the end."""
    rng = np.random.default_rng(task["seed"])
    model = build_model(task, rng)
    optimizer = build_optimizer(task, model.parameters())
    target = TARGETS[task["target"]["name"]]
    steps = task["steps"]
    inputs = draw_inputs(rng, steps, task["batch_size"])
    losses = np.empty(steps)
    failure_step = failure_reason = loss = None
    waited = 0.0  # seconds inside on_progress (e.g. blocked on a store): not training time

    def report(step: int, so_far: np.ndarray) -> None:
        nonlocal waited
        if on_progress is not None:
            called = time.perf_counter()
            on_progress(step, so_far)
            waited += time.perf_counter() - called

    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported below
        for step in range(steps):
            x = next(inputs)
            loss = Mean(Square(model(Variable(x)) - Constant(target(x))))
            value = loss.item()
            if (
                reason := divergence(value, losses[0] if step else None, task["divergence_factor"])
            ) is not None:
                failure_step, failure_reason = step, reason
                break
            losses[step] = value
            loss.backward()
            optimizer.step()
            if step % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                report(step, losses[: step + 1])
    train_seconds = time.perf_counter() - started - waited
    done = steps if failure_step is None else failure_step
    if on_progress is not None:
        on_progress(done - 1, losses[:done])
    result = TrainResult(
        losses=losses[:done],
        train_seconds=train_seconds,
        failure_step=failure_step,
        failure_reason=failure_reason,
        graph_dot=loss.pretty_print_dot_graph(),
    )
    if not result.diverged:
        result.parameters = {name: np.array(p.values) for name, p in model.named_parameters()}
        result.eval_pred = model(Variable(EVAL_X)).values[:, 0]
        result.eval_target = target(EVAL_X)[:, 0]
    return result
