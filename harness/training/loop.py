"""Train the MLP a config describes and say what happened. Knows nothing of MLflow or Hydra's runtime.

One numpy Generator seeded with `seed` draws the initial parameters, then the training inputs
(uniform on [-1, 1]), a chunk of steps at a time; each step builds the engine's graph for
`Mean(Square(mlp(x) - y))`, runs backward and the optimizer. A loss that is not finite, or past
`divergence_factor` times the first loss, stops training at once. The caller may stop a run early too:
its `on_progress` raises `StopTraining` (a search's pruner does). The evaluation uses the seed post's plot
grid: 200 points from -1 in steps of 0.01.
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
from harness.training.targets import TARGETS

EVAL_X = (np.arange(200) / 100.0 - 1.0).reshape(-1, 1)  # the seed's x_test_vals
FINAL_WINDOW = 100  # final_loss is the mean of the last this-many steps
PROGRESS_EVERY = 100  # steps between calls of `on_progress`
INPUT_CHUNK = 2**20  # training inputs drawn at a time (8 MB)

ProgressCallback = Callable[[int, np.ndarray], None]


class StopTraining(Exception):  # noqa: N818 (a request, not an error)
    """Raised by an `on_progress` callback to end its run after the steps done so far (the result keeps
    them, with `stop_reason`); raised from the call at the end of training, when nothing is left to
    stop, it is ignored."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class TrainResult:
    losses: np.ndarray  # one per completed step; a diverged run ends before its non-finite loss
    train_seconds: float
    failure_step: int | None = None
    failure_reason: str | None = None
    stop_reason: str | None = None  # why its `on_progress` stopped it early (StopTraining), if it did
    graph_dot: str = ""
    parameters: dict[str, np.ndarray] = field(default_factory=dict)
    eval_x: np.ndarray = field(default_factory=lambda: EVAL_X[:, 0])
    eval_pred: np.ndarray | None = None
    eval_target: np.ndarray | None = None

    @property
    def diverged(self) -> bool:
        return self.failure_step is not None

    @property
    def stopped(self) -> bool:
        return self.stop_reason is not None

    @property
    def completed(self) -> bool:
        """Trained every step: it has a fitted network and evaluation metrics."""
        return not self.diverged and not self.stopped

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


def final_progress(on_progress: ProgressCallback | None, step: int, losses: np.ndarray) -> None:
    """The call of `on_progress` once training has ended: a StopTraining from it has nothing to stop."""
    if on_progress is not None:
        try:
            on_progress(step, losses)
        except StopTraining:
            pass


def train(task: dict[str, Any], on_progress: ProgressCallback | None = None) -> TrainResult:
    """Train as `task` (a resolved config as plain data) says; `on_progress(step, losses_so_far)` is
    called every PROGRESS_EVERY steps and at the end; it may raise StopTraining to end the run there."""
    rng = np.random.default_rng(task["seed"])
    model = build_model(task, rng)
    optimizer = build_optimizer(task, model.parameters())
    target = TARGETS[task["target"]["name"]]
    steps = task["steps"]
    inputs = draw_inputs(rng, steps, task["batch_size"])
    losses = np.empty(steps)
    failure_step = failure_reason = stop_reason = loss = None
    waited = 0.0  # seconds inside on_progress (e.g. blocked on a store): not training time

    def report(step: int, so_far: np.ndarray) -> None:
        nonlocal waited
        if on_progress is not None:
            called = time.perf_counter()
            try:
                on_progress(step, so_far)
            finally:
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
                try:
                    report(step, losses[: step + 1])
                except StopTraining as stop:
                    done, stop_reason = step + 1, stop.reason
                    break
    train_seconds = time.perf_counter() - started - waited
    if stop_reason is None:
        done = steps if failure_step is None else failure_step
    final_progress(on_progress, done - 1, losses[:done])
    result = TrainResult(
        losses=losses[:done],
        train_seconds=train_seconds,
        failure_step=failure_step,
        failure_reason=failure_reason,
        stop_reason=stop_reason,
        graph_dot=loss.pretty_print_dot_graph(),
    )
    if result.completed:
        result.parameters = {name: np.array(p.values) for name, p in model.named_parameters()}
        result.eval_pred = model(Variable(EVAL_X)).values[:, 0]
        result.eval_target = target(EVAL_X)[:, 0]
    return result
