"""Train the MLPs configs describe and say what happened. Knows nothing of MLflow or Hydra's runtime.

One loop trains R runs of one shape as one model on the engine's runs axis (`MLP.stacked`); a single
run is a batch of one. Run r's parameters and then its inputs (uniform on [-1, 1], drawn a chunk of
steps at a time) come from `default_rng(seed_r)` as a network of its own would draw them, and its
optimizer gets its own lr, betas, weight decay, eps and momentum, so its numbers are those of its run
alone, bit for bit. Each step builds the engine's graph for `Mean(Square(mlp(x) - y))`, runs backward
and the optimizer. A loss that is not finite, or past `divergence_factor` times the run's first loss,
ends that run at once; its `on_progress` may end it too by raising `StopTraining` (a search's pruner);
the others go on. The evaluation uses the seed post's plot grid: 200 points from -1 in steps of 0.01.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from hydra.utils import get_method

from engine import Constant, Mean, Square, Variable
from engine.nn import MLP
from harness.training.config import Config
from harness.training.targets import TARGETS

EVAL_X = (np.arange(200) / 100.0 - 1.0).reshape(-1, 1)  # the seed's x_test_vals
FINAL_WINDOW = 100  # final_loss is the mean of the last this-many steps
PROGRESS_EVERY = 100  # steps between calls of `on_progress`
INPUT_CHUNK = 2**20  # training inputs drawn at a time, all runs together (8 MB)
PER_RUN_OPTIMIZER_KEYS = frozenset({"lr", "betas", "weight_decay", "eps", "momentum"})

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


def divergence(loss: float, first: float | None, factor: float) -> str | None:
    """Why `loss` means the run diverged (not finite, or past `factor` x the first loss), else None."""
    if not math.isfinite(loss):
        return f"loss is {loss}"
    if first is not None and loss > factor * max(first, np.finfo(float).tiny):
        return f"loss {loss:.3g} > divergence_factor {factor:g} x first loss {first:.3g}"
    return None


def batched_optimizer(configs: Sequence[Config], parameters):
    """The optimizer the configs' `optimizer` option names (`_target_`), on `parameters`, with one value
    per run for every argument the option gives."""
    option = configs[0].optimizer
    arguments = {}
    for key in (key for key in option if not key.startswith("_")):
        values = np.array([config.optimizer[key] for config in configs], dtype=float)
        arguments[key] = (values[:, 0], values[:, 1]) if key == "betas" else values
    return get_method(option["_target_"])(parameters, **arguments)


def draw_inputs(rngs: Sequence[np.random.Generator], steps: int, batch_size: int, target) -> Iterator:
    """Each step's inputs `[runs, batch_size, 1]` and their targets, run r's from `rngs[r]`, drawn
    INPUT_CHUNK values at a time: the same numbers as one `(steps, batch_size, 1)` draw per run, without
    holding them all (1e9 steps: 8 GB a run)."""
    chunk_steps = max(1, INPUT_CHUNK // (batch_size * len(rngs)))
    for start in range(0, steps, chunk_steps):
        size = (min(chunk_steps, steps - start), batch_size, 1)
        xs = np.stack([rng.uniform(-1.0, 1.0, size=size) for rng in rngs], axis=1)
        yield from zip(xs, target(xs), strict=True)


def graph_dot(config: Config, x: np.ndarray, target) -> str:
    """The DOT text of one run's graph on input `x`: a single network's (its labels show the input
    and target values, not the parameters' values)."""
    hidden = [config.width] * config.depth
    model = MLP(1, hidden, 1, negative_slope=config.negative_slope, init=config.init.name, rng=0)
    return Mean(Square(model(Variable(x)) - Constant(target(x)))).pretty_print_dot_graph()


def train(config: Config, on_progress: ProgressCallback | None = None) -> TrainResult:
    """One run: a batch of one."""
    return train_runs([config], [on_progress])[0]


def train_runs(configs: Sequence[Config], callbacks: Sequence[ProgressCallback | None]) -> list[TrainResult]:
    """Runs of one shape (`harness.training.batches.shared_key`) trained together, each exactly as alone.
    `callbacks[r](step, losses_so_far)` is called every PROGRESS_EVERY steps and at the end of run r; it
    may raise StopTraining to end that run there. Each run's `train_seconds` is its share of the time."""
    first, runs = configs[0], len(configs)
    rngs = [np.random.default_rng(config.seed) for config in configs]
    hidden = [first.width] * first.depth
    model = MLP.stacked(1, hidden, 1, rngs, negative_slope=first.negative_slope, init=first.init.name)
    optimizer = batched_optimizer(configs, model.parameters())
    target = TARGETS[first.target.name]
    steps, factor = first.steps, first.divergence_factor
    losses = np.empty((runs, steps))  # a row per run: each run's curve is a contiguous view
    active = np.ones(runs, dtype=bool)
    ended: list[tuple[str, str] | None] = [None] * runs  # ("failure" or "stop", reason)
    done = np.full(runs, steps)  # steps each run trained
    last_x: list[np.ndarray | None] = [None] * runs  # the input of a run's last step, for its graph
    seed_gradient = np.ones(runs)
    waited = 0.0  # seconds inside the callbacks (e.g. blocked on a store): not training time

    def report(run: int, step: int, x: np.ndarray) -> None:
        nonlocal waited
        called = time.perf_counter()
        try:
            callbacks[run](step, losses[run, : step + 1])
        except StopTraining as stop:  # this run only: the others go on
            ended[run], done[run], active[run], last_x[run] = ("stop", stop.reason), step + 1, False, x[run]
        finally:
            waited += time.perf_counter() - called

    started = time.perf_counter()
    with np.errstate(all="ignore"):  # divergence is detected and reported below; frozen runs' numbers unused
        for step, (x, y) in enumerate(draw_inputs(rngs, steps, first.batch_size, target)):
            loss = Mean(Square(model(Variable(x)) - Constant(y)), axis=(1, 2))
            values = loss.values
            diverged = active & ~np.isfinite(values)
            if step:
                diverged |= active & (values > factor * np.maximum(losses[:, 0], np.finfo(float).tiny))
            for run in np.flatnonzero(diverged):
                reason = divergence(float(values[run]), float(losses[run, 0]) if step else None, factor)
                ended[run], done[run], last_x[run] = ("failure", reason), step, x[run]
            active &= ~diverged
            if not active.any():
                break
            losses[:, step] = values
            loss.backward(seed_gradient)
            optimizer.step(None if active.all() else active)
            if step % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                for run in np.flatnonzero(active):
                    if callbacks[run] is not None:
                        report(run, step, x)
                if not active.any():
                    break
        share = (time.perf_counter() - started - waited) / runs
        predictions = model(Variable(np.broadcast_to(EVAL_X, (runs, *EVAL_X.shape)))).values[:, :, 0]
    results = []
    for run, config in enumerate(configs):
        trained, (how, reason) = int(done[run]), ended[run] or (None, None)
        if callbacks[run] is not None:  # the call at the end: a StopTraining from it has nothing to stop
            try:
                callbacks[run](trained - 1, losses[run, :trained])
            except StopTraining:
                pass
        result = TrainResult(
            losses=losses[run, :trained].copy(),
            train_seconds=share,
            failure_step=trained if how == "failure" else None,
            failure_reason=reason if how == "failure" else None,
            stop_reason=reason if how == "stop" else None,
            graph_dot=graph_dot(config, x[run] if last_x[run] is None else last_x[run], target),
        )
        if result.completed:
            result.parameters = model.run_parameters(run)
            result.eval_pred = predictions[run].copy()
            result.eval_target = target(EVAL_X)[:, 0]
        results.append(result)
    return results
