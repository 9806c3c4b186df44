"""The job and the sweep callback in this process, on the real config composed by Hydra's compose API
(with Hydra's own node, as a launched job sees it) into a real sqlite store. Subprocess tests keep
what only a process shows: signals, exit codes, parallel writers."""

from __future__ import annotations

from harness.job.job import run_job
from harness.sweep.callbacks import MlflowSweepCallback
from harness.tracking import FAILED, FINISHED, Tags


def test_a_job_is_one_finished_run_named_by_its_overrides(job_config, stored, store_dir):
    run_id = run_job(job_config("steps=40", "width=8", "optimizer=adamw", "report=false"))
    (run,) = stored(f"sqlite:///{store_dir / 'mlflow.db'}").children()
    assert run.info.run_id == run_id and run.info.status == FINISHED
    assert run.info.run_name == "steps=40 width=8 optimizer=adamw"
    assert run.data.params["optimizer"] == "adamw" and run.data.params["optimizer.eps"] == "1e-08"
    assert {"eval_mse", "final_loss", "train_seconds"} <= set(run.data.metrics)
    assert Tags.PARENT_RUN_ID not in run.data.tags


def test_a_diverging_job_ends_failed_with_its_step_and_returns_normally(job_config, stored, store_dir):
    run_job(job_config("steps=200", "optimizer=sgd", "lr=100", "divergence_factor=inf", "report=false"))
    (run,) = stored(f"sqlite:///{store_dir / 'mlflow.db'}").children()
    assert run.info.status == FAILED
    assert int(run.data.tags[Tags.FAILURE_STEP]) < 200 and "loss is" in run.data.tags[Tags.FAILURE_REASON]


def test_the_callback_makes_one_parent_that_holds_the_sweeps_jobs(job_config, stored, store_dir):
    callback = MlflowSweepCallback()
    sweep_cfg = job_config("steps=30", "width=4", "report=false", multirun=True)
    callback.on_multirun_start(sweep_cfg)
    for seed in (0, 1):
        run_job(job_config("steps=30", "width=4", "report=false", f"seed={seed}", multirun=True))
    callback.on_multirun_end(sweep_cfg)
    store = stored(f"sqlite:///{store_dir / 'mlflow.db'}")
    (parent,) = store.parents()
    assert parent.info.status == FINISHED
    children = store.children(parent)
    assert len(children) == 2 and {run.info.status for run in children} == {FINISHED}
    assert {run.data.tags[Tags.SWEEP_ID] for run in children} == {parent.data.tags[Tags.SWEEP_ID]}
