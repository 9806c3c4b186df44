"""`train_many`: tasks trained together on the engine's runs axis equal the same tasks trained alone."""

from __future__ import annotations

import numpy as np
import pytest

from harness.checks.schema import task_config
from harness.training import batches as batch_training
from harness.training.batches import parameter_count, runs_per_slice, shared_key, train_many
from harness.training.config import Config
from harness.training.loop import StopTraining, train

STEPS = "steps=250"  # past two progress calls (every 100 steps)
MIXED = [  # three batches: seed_adamw x4 (one diverges: b1 != b2), sgd x2 (one diverges), adamw batch 4 x2
    ["seed=0"],
    ["seed=1", "lr=1e-2"],
    ["seed=2", "betas=[0.9,0.999]"],
    ["seed=3", "weight_decay=0"],
    ["optimizer=sgd", "lr=100"],
    ["optimizer=sgd", "lr=1e-3", "optimizer.momentum=0.5"],
    ["optimizer=adamw", "batch_size=4"],
    ["optimizer=adamw", "batch_size=4", "lr=3e-3", "seed=5", "optimizer.eps=1e-6"],
]


@pytest.fixture(scope="module")
def tasks():
    from hydra import compose, initialize_config_dir

    from harness.checks.schema import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return [task_config(compose("config", [*overrides, STEPS, "width=8"])) for overrides in MIXED]


def test_tasks_differing_only_in_seed_and_optimizer_values_share_a_batch(tasks):
    keys = [shared_key(task) for task in tasks]
    assert len(set(keys[:4])) == 1 and len(set(keys[4:6])) == 1 and len(set(keys[6:])) == 1
    assert len(set(keys)) == 3


def test_each_task_trained_in_a_batch_equals_the_task_trained_alone(tasks):
    progress_alone = [[] for _ in tasks]
    alone = [
        train(task, lambda step, losses, seen=seen: seen.append((step, len(losses), losses[-1])))
        for task, seen in zip(tasks, progress_alone, strict=True)
    ]
    progress_batched = [[] for _ in tasks]
    callbacks = [
        lambda step, losses, seen=seen: seen.append((step, len(losses), losses[-1]))
        for seen in progress_batched
    ]

    batched = train_many(tasks, callbacks)

    assert {result.diverged for result in alone} == {True, False}  # both kinds are compared
    for index, (one, many) in enumerate(zip(alone, batched, strict=True)):
        np.testing.assert_array_equal(many.losses, one.losses, err_msg=f"task {index}")
        assert (many.failure_step, many.failure_reason) == (one.failure_step, one.failure_reason)
        assert many.graph_dot == one.graph_dot
        assert many.parameters.keys() == one.parameters.keys()
        for name, values in one.parameters.items():
            np.testing.assert_array_equal(many.parameters[name], values, err_msg=f"task {index} {name}")
        if not one.diverged:
            np.testing.assert_array_equal(many.eval_pred, one.eval_pred)
            assert (many.final_loss, many.eval_mse) == (one.final_loss, one.eval_mse)
        assert progress_batched[index] == progress_alone[index]  # same steps, same curves so far
        assert many.train_seconds > 0


def test_a_run_stopped_by_its_progress_callback_leaves_the_rest_of_its_batch_as_they_were(tasks):
    batch = tasks[:4]  # one shared key: one model on the runs axis
    alone = [train(task) for task in batch]

    def stop_at_200(step, losses):
        if len(losses) >= 200:
            raise StopTraining("pruned")

    batched = train_many(batch, [None, stop_at_200, None, None])

    stopped = batched[1]
    assert stopped.stopped and stopped.stop_reason == "pruned" and stopped.eval_pred is None
    np.testing.assert_array_equal(stopped.losses, alone[1].losses[:200])
    for index in (0, 2, 3):  # the others, diverged or finished, as alone, bit for bit
        one, many = alone[index], batched[index]
        np.testing.assert_array_equal(many.losses, one.losses, err_msg=f"task {index}")
        assert (many.failure_step, many.stop_reason) == (one.failure_step, None)
        if one.completed:
            assert many.completed and many.eval_mse == one.eval_mse


def test_a_group_larger_than_a_slice_trains_in_slices_each_run_as_alone(tasks, monkeypatch):
    group = tasks[:4]  # one shared key
    monkeypatch.setattr(batch_training, "SLICE_BYTES", 8 * parameter_count(group[0]) * 3)  # 3 runs
    sizes = []
    real_train_runs = batch_training.train_runs
    monkeypatch.setattr(
        batch_training,
        "train_runs",
        lambda batch, callbacks: sizes.append(len(batch)) or real_train_runs(batch, callbacks),
    )
    alone = [train(task) for task in group]

    batched = train_many(group)

    assert sizes == [3, 1]  # the fourth is a batch of one, as `train` trains it
    for index, (one, many) in enumerate(zip(alone, batched, strict=True)):
        np.testing.assert_array_equal(many.losses, one.losses, err_msg=f"task {index}")


def test_a_slice_holds_fewer_runs_as_the_network_grows():
    per_width = [runs_per_slice(Config(width=width, depth=2)) for width in (16, 32, 64, 128, 256)]
    assert per_width == sorted(per_width, reverse=True) and per_width[-1] >= 1
    # width 128, depth 2: 1*128+128 + 128*128+128 + 128+1 parameters
    assert parameter_count(Config(width=128, depth=2)) == 16897
