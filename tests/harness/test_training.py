"""The training loop alone: what it returns, determinism, divergence. No MLflow, no Hydra runtime."""

from __future__ import annotations

import numpy as np
import pytest

from engine.optim import SGD, Adam, SeedAdamW
from harness.checks.schema import task_config
from harness.training.loop import EVAL_X, StopTraining, batched_optimizer, train


@pytest.fixture
def task(compose_config):
    def _task(*overrides: str):
        return task_config(compose_config(*overrides))

    return _task


def test_train_returns_one_loss_per_step_and_the_fitted_curve(task):
    result = train(task("steps=50", "width=8"))
    assert result.losses.shape == (50,) and np.all(np.isfinite(result.losses))
    assert not result.diverged and result.failure_reason is None
    assert result.eval_x.shape == result.eval_pred.shape == result.eval_target.shape == (200,)
    assert result.eval_mse == pytest.approx(np.mean((result.eval_pred - result.eval_target) ** 2))
    assert result.eval_max_abs_err >= np.sqrt(result.eval_mse) - 1e-12
    assert result.final_loss == pytest.approx(result.losses[-100:].mean())
    assert result.train_seconds > 0
    assert "digraph" in result.graph_dot
    assert sorted(result.parameters) == [f"layers.{i}.{p}" for i in range(3) for p in ("bias", "weight")]


def test_evaluation_uses_the_seed_posts_plot_grid():
    assert EVAL_X[:, 0] == pytest.approx([i / 100 - 1.0 for i in range(200)])


def test_same_config_same_losses_other_seed_other_losses(task):
    first, again, other = train(task("steps=30")), train(task("steps=30")), train(task("steps=30", "seed=1"))
    assert np.array_equal(first.losses, again.losses)
    assert not np.array_equal(first.losses, other.losses)


def test_the_default_experiment_fits_the_seed_target(task):
    result = train(task())
    assert len(result.losses) == 3000
    assert result.final_loss < 0.1 and result.eval_mse < 0.1


@pytest.mark.parametrize("overrides", [("optimizer=sgd",), ("betas=[0.9,0.999]",)])
def test_a_non_finite_loss_stops_training_at_once(task, overrides):
    result = train(task("steps=500", "divergence_factor=inf", *overrides))
    assert result.diverged
    assert result.failure_reason in {"loss is nan", "loss is inf"}
    assert len(result.losses) == result.failure_step < 10
    assert np.all(np.isfinite(result.losses))
    assert result.eval_pred is None and result.parameters == {}


def test_a_loss_past_the_divergence_bound_stops_training_at_that_step(task):
    # The seed's AdamW variant with b1 != b2: loss 9.2e5 at step 0, ~1e31 at step 1 (its last digits
    # follow NumPy's rounding: the clamped variance divides by 1e-8), then ~1e20 for thousands of steps,
    # never NaN.
    result = train(task("betas=[0.9,0.99]", "steps=3000"))
    unbounded = train(task("betas=[0.9,0.99]", "steps=50", "divergence_factor=inf"))
    assert not unbounded.diverged and unbounded.losses.max() > 1e31
    first, second = unbounded.losses[:2]
    assert first == pytest.approx(9.23e5, rel=1e-3) and second > 1e6 * first
    assert result.failure_step == 1 and list(result.losses) == [first]
    assert result.failure_reason == f"loss {second:.3g} > divergence_factor 1e+06 x first loss {first:.3g}"


def test_progress_is_reported_every_hundred_steps_and_at_the_end(task):
    calls = []
    train(task("steps=250", "width=4"), on_progress=lambda step, losses: calls.append((step, len(losses))))
    assert calls == [(99, 100), (199, 200), (249, 250)]


def stop_at(steps_done: int, calls: list):
    """An `on_progress` that asks to stop once `steps_done` steps are done (as a pruner does)."""

    def on_progress(step, losses):
        calls.append((step, len(losses)))
        if len(losses) >= steps_done:
            raise StopTraining(f"stopped after {len(losses)} steps")

    return on_progress


def test_on_progress_can_stop_a_run_which_keeps_its_curve_so_far(task):
    full = train(task("steps=350", "width=4"))
    calls = []
    stopped = train(task("steps=350", "width=4"), on_progress=stop_at(200, calls))
    assert stopped.stopped and not stopped.diverged and not stopped.completed
    assert stopped.stop_reason == "stopped after 200 steps"
    np.testing.assert_array_equal(stopped.losses, full.losses[:200])  # the steps it ran, and no more
    assert stopped.eval_pred is None and stopped.parameters == {}  # no fitted network to evaluate
    assert calls == [(99, 100), (199, 200), (199, 200)]  # and the call at the end, whose stop is moot
    assert full.completed and not full.stopped


@pytest.mark.parametrize(
    ("optimizer", "cls", "expected"),
    [
        ("seed_adamw", SeedAdamW, {"lr": 0.01, "betas": (0.9, 0.95), "weight_decay": 0.0, "eps": 1e-8}),
        ("adam", Adam, {"lr": 0.01, "betas": (0.9, 0.95), "weight_decay": 0.0, "eps": 1e-8}),
        ("sgd", SGD, {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.0}),
    ],
)
def test_each_optimizer_gets_the_config_values_it_takes(task, optimizer, cls, expected):
    overrides = [f"optimizer={optimizer}", "lr=0.01", "betas=[0.9,0.95]", "weight_decay=0"]
    if optimizer == "sgd":
        overrides.append("optimizer.momentum=0.5")
    built = batched_optimizer([task(*overrides)], _parameters())  # a batch of one run
    assert isinstance(built, cls)
    for name, value in expected.items():
        assert np.ravel(getattr(built, name)).tolist() == np.ravel(value).tolist()


def _parameters():
    """A network of one run on the runs axis, as the training loop builds it."""
    from engine.nn import MLP

    return MLP.stacked(1, [3], 1, [0]).parameters()
