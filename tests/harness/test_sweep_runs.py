"""`python -m harness.run` end to end in a subprocess: real Hydra, real MLflow (sqlite in tmp_path),
assertions on what the store holds."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from harness.checks.schema import CONF_DIR, SWEEPS_DIR
from harness.tracking import Tags

STEPS = 60
ARTIFACTS = {"fit.png", "loss.png", "graph.dot", "config.yaml", "model.npz", "fit.npz", "curve.npz"}
METRICS = {"loss", "eval_mse", "eval_max_abs_err", "final_loss", "train_seconds"}


@pytest.fixture(scope="module")
def grid(run_harness, tmp_path_factory, empty_store):
    """One 2 x 2 sweep with the basic launcher, shared by the tests below (read-only), into a copy of
    the migrated empty store (a fresh store is the next-but-one test's)."""
    cwd = tmp_path_factory.mktemp("grid")
    shutil.copy(empty_store, cwd / "mlflow.db")
    return run_harness(cwd, "-m", "lr=1e-3,1e-2", "width=8,16", f"steps={STEPS}")


def test_a_sweep_is_one_parent_with_one_nested_child_per_job(grid):
    (parent,) = grid.store.parents()
    children = grid.store.children(parent)
    assert len(children) == 4 == len(grid.store.children())
    assert parent.info.status == "FINISHED"
    assert {run.info.status for run in children} == {"FINISHED"}
    assert {run.data.tags[Tags.SWEEP_ID] for run in children} == {parent.data.tags[Tags.SWEEP_ID]}
    assert json.loads(parent.data.tags[Tags.SWEPT_KEYS]) == ["lr", "width"]
    assert parent.data.tags[Tags.OVERRIDES] == f"lr=1e-3,1e-2 width=8,16 steps={STEPS}"


def test_each_run_is_named_by_its_swept_values(grid):
    assert set(grid.store.by_name()) == {
        "lr=0.001 width=8",
        "lr=0.001 width=16",
        "lr=0.01 width=8",
        "lr=0.01 width=16",
    }


def test_each_run_has_every_resolved_config_value_as_a_param(grid):
    run = grid.store.by_name()["lr=0.01 width=16"]
    params = run.data.params
    assert params["lr"] == "0.01" and params["width"] == "16" and params["steps"] == str(STEPS)
    assert params["betas"] == "[0.9, 0.9]" and params["weight_decay"] == "0.001"
    assert params["optimizer"] == "seed_adamw" and params["init"] == "seed"
    assert params["target"] == "seed" and params["experiment"] == "autograd-mlp"
    assert {"depth", "batch_size", "seed", "negative_slope", "optimizer.eps", "resume", "report"} <= set(
        params
    )


def test_each_run_has_its_reproducibility_tags(grid):
    runs = grid.store.children()
    for run in runs:
        tags = run.data.tags
        assert tags[Tags.ROLE] == "job"
        assert json.loads(tags[Tags.SWEPT_KEYS]) == ["lr", "width"]
        assert re.fullmatch(r"[0-9a-f]{16}", tags[Tags.CONFIG_HASH])
        assert re.fullmatch(r"[0-9a-f]{40}|unknown", tags[Tags.GIT_COMMIT])
        assert tags[Tags.OVERRIDES].endswith(f"steps={STEPS}")
        assert Tags.FAILURE_STEP not in tags
    assert len({run.data.tags[Tags.CONFIG_HASH] for run in runs}) == 4
    assert (
        grid.store.by_name()["lr=0.001 width=8"].data.tags[Tags.OVERRIDES]
        == f"lr=0.001 width=8 steps={STEPS}"
    )


def test_each_run_has_the_loss_every_10_steps_its_curve_at_every_step_and_its_summary_metrics(grid, tmp_path):
    for run in grid.store.children():
        history = grid.store.loss_history(run)
        losses = grid.store.curve(run, tmp_path)
        assert len(losses) == STEPS and [m.step for m in history] == list(range(9, STEPS, 10))
        assert [m.value for m in history] == pytest.approx(losses.reshape(-1, 10).mean(axis=1))
        assert set(run.data.metrics) == METRICS
        assert run.data.metrics["final_loss"] == pytest.approx(losses.mean())  # < 100 steps: all of them
        assert run.data.metrics["eval_mse"] > 0 and run.data.metrics["train_seconds"] > 0


def test_each_run_has_its_artifacts(grid, tmp_path):
    run = grid.store.by_name()["lr=0.001 width=16"]
    assert grid.store.artifacts(run) == ARTIFACTS
    config = yaml.safe_load(grid.store.download(run, "config.yaml", tmp_path).read_text())
    assert config["lr"] == 0.001 and config["width"] == 16
    assert config["optimizer"]["_target_"] == "engine.optim.SeedAdamW"
    model = np.load(grid.store.download(run, "model.npz", tmp_path))
    assert model["layers.1.weight"].shape == (16, 16)
    fit = np.load(grid.store.download(run, "fit.npz", tmp_path))
    assert fit["x"].shape == fit["y_pred"].shape == fit["y_target"].shape == (200,)
    assert grid.store.download(run, "graph.dot", tmp_path).read_text().startswith("digraph")


def test_the_output_has_a_line_per_job_start_and_end_and_says_where_runs_are(grid):
    output = grid.output
    for run in grid.store.children():
        name = run.info.run_name
        assert re.search(
            rf"start {re.escape(name)} \(overrides: {re.escape(run.data.tags[Tags.OVERRIDES])}\)", output
        )
        assert re.search(
            rf"end {re.escape(name)}: FINISHED final_loss=\S+ eval_mse=\S+ in \S+ s, run {run.info.run_id}",
            output,
        )
    assert re.search(r"sweep \S+ done: 4 finished", output)
    assert "stored in experiment 'autograd-mlp'" in output


def test_the_sweep_ends_with_its_report_and_says_where(grid):
    (parent,) = grid.store.parents()
    path = re.search(r"report: (\S+report\.html)", grid.output).group(1)
    assert (grid.cwd / path).is_file()
    assert parent.data.tags[Tags.SWEEP_ID] in path


def test_a_single_run_of_the_defaults_reproduces_the_seed_post(run_harness, store_dir):
    single = run_harness(store_dir)
    (run,) = single.store.runs()
    assert run.info.run_name == "default" and run.info.status == "FINISHED"
    assert Tags.PARENT_RUN_ID not in run.data.tags and run.data.tags[Tags.ROLE] == "job"
    assert json.loads(run.data.tags[Tags.SWEPT_KEYS]) == []
    assert len(single.store.loss_history(run)) == 300  # one point per 10 steps (log_every_n_steps)
    assert run.data.metrics["final_loss"] < 0.1 and run.data.metrics["eval_mse"] < 0.1
    assert "run `mlflow ui --workers 1` here" in single.output  # the store is ./mlflow.db where it ran


@pytest.fixture(scope="module")
def unregistered(run_harness, tmp_path_factory, empty_store):
    """A 2-job sweep with `register=false` and no MLFLOW_TRACKING_URI, into a copy of the migrated empty
    store as ./mlflow.db (creating one is test_two_sweeps_started_at_once_...'s): one command, two tests."""
    cwd = tmp_path_factory.mktemp("unregistered")
    shutil.copy(empty_store, cwd / "mlflow.db")
    return run_harness(cwd, "-m", "seed=0,1", "steps=20", "register=false", "report=false", uri=None)


def test_without_a_tracking_uri_the_store_is_mlflow_db_where_the_command_ran(unregistered, stored):
    store = stored(f"sqlite:///{unregistered.cwd}/mlflow.db")
    assert len(store.parents()) == 1 and len(store.children()) == 2


def test_help_lists_every_option_of_every_group_and_every_named_sweep(run_harness, tmp_path):
    helped = run_harness(tmp_path, "--help", uri=None)
    shown = helped.result.stdout
    assert "optimizer: adam|adamw|seed_adamw|sgd" in shown
    assert "sweeper_default" not in shown  # chooses the grid's default sweeper: not a user's choice
    groups = ("hydra/launcher", "hydra/sweeper", "hydra/sweeper/sampler", "hydra/sweeper/pruner")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):  # Hydra finds the truth
        loader = GlobalHydra.instance().config_loader()
        found = {group: sorted(loader.get_group_options(group)) for group in groups}
    for group, options in found.items():
        assert f"{group}={'|'.join(options)}" in shown, group
    sweeps = sorted(path.stem for path in SWEEPS_DIR.glob("*.yaml"))
    assert f"sweeps={'|'.join(sweeps)}" in shown
    for option in ("vectorized", "joblib", "optuna", "search_adamw", "betas"):  # the ones a user looks for
        assert re.search(rf"[=|]{option}\b", shown), option
    assert not (tmp_path / "mlflow.db").exists()


def test_the_parent_run_tells_what_was_swept_and_how_it_came_out(grid):
    (parent,) = grid.store.parents()
    children = grid.store.children(parent)

    assert parent.data.params["lr"] == "0.001, 0.01" and parent.data.params["width"] == "8, 16"
    assert parent.data.params["steps"] == str(STEPS) and parent.data.params["n_jobs"] == "4"
    metrics = parent.data.metrics
    assert metrics["n_finished"] == 4 and metrics["n_failed"] == 0
    best = min(children, key=lambda run: run.data.metrics["eval_mse"])  # one seed: a setting is a run
    assert metrics["best_eval_mse"] == pytest.approx(best.data.metrics["eval_mse"])
    assert metrics["best_final_loss"] == pytest.approx(best.data.metrics["final_loss"])
    note = parent.data.tags[Tags.NOTE]
    assert f"python -m harness.run -m lr=1e-3,1e-2 width=8,16 steps={STEPS}" in note
    assert f"Best setting: {best.info.run_name}, eval_mse" in note and "Runner-up: " in note
    assert "report/report.html" in note
    assert {"report.html", "loss_curves.png"} <= {
        info.path.rpartition("/")[2]
        for info in grid.store.client.list_artifacts(parent.info.run_id, "report")
    }


def test_the_experiment_is_tagged_as_model_training_and_the_output_links_its_runs_table(grid):
    client = grid.store.client
    experiment = client.get_experiment_by_name("autograd-mlp")

    assert experiment.tags[Tags.EXPERIMENT_KIND] == "custom_model_development"
    last_line = grid.result.stdout.strip().splitlines()[-1]  # the log (MLflow prints to stderr)
    link = (
        f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning"
    )
    assert last_line.endswith(link)
    (parent,) = grid.store.parents()
    parent_link = (
        f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}/runs/{parent.info.run_id}"
        "?workflowType=machine_learning"
    )
    assert (
        grid.result.stdout.strip()
        .splitlines()[-2]
        .endswith(f"the sweep's own run (its verdict, report and model): {parent_link}")
    )


def test_without_a_terminal_the_sweep_shows_one_plain_line_per_finished_job(grid):
    line = r"^sweep (\d+)/4 jobs done \(([^)]*)\), (\d\d:\d\d) elapsed, ~\S+ left: (.+) (\w+)$"
    lines = re.findall(line, grid.output, flags=re.MULTILINE)

    assert [int(done) for done, *_ in lines] == [1, 2, 3, 4]  # one line per job, none repeated
    assert lines[-1][1] == "4 finished"
    assert sorted(name for *_, name, _ in lines) == sorted(grid.store.by_name())
    assert "\r" not in grid.output and "Launching" not in grid.output.split("Launching", 1)[1]  # said once


def test_the_best_run_is_a_registered_model_that_predicts_as_the_engine_did(grid, tmp_path, monkeypatch):
    import mlflow

    (parent,) = grid.store.parents()
    best = min(grid.store.children(parent), key=lambda run: run.data.metrics["eval_mse"])
    client = grid.store.client
    (version,) = client.search_model_versions(f"run_id = '{best.info.run_id}'")
    assert (
        version.name == "autograd-mlp"
        and f"models:/autograd-mlp/{version.version}" in parent.data.tags[Tags.NOTE]
    )

    from harness.upstream import fluent_tracking_uri

    with fluent_tracking_uri(grid.store.uri):  # this store's registry, whatever this process set before
        model = mlflow.pyfunc.load_model(f"models:/autograd-mlp/{version.version}")
    assert model.metadata.run_id == best.info.run_id
    fit = np.load(grid.store.download(best, "fit.npz", tmp_path))  # the engine's own prediction, at training
    assert np.allclose(model.predict(fit["x"].reshape(-1, 1)), fit["y_pred"], rtol=0, atol=1e-12)
    assert model.metadata.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] in ([-1, 1], (-1, 1))
    assert model.metadata.saved_input_example_info is not None


def test_the_winners_logged_model_belongs_to_its_runs_experiment_and_its_version_links_to_it(grid):
    client = grid.store.client
    experiment = client.get_experiment_by_name("autograd-mlp")
    (parent,) = grid.store.parents()
    best = min(grid.store.children(parent), key=lambda run: run.data.metrics["eval_mse"])
    # what the experiment's Models page lists: the logged models of the experiment
    (model,) = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    assert model.experiment_id == experiment.experiment_id and model.source_run_id == best.info.run_id
    assert client.search_logged_models(experiment_ids=["0"]) == []  # nothing filed under "Default"
    # what the run's "Logged models" and the runs table's Models column show: the run's model outputs
    outputs = client.get_run(best.info.run_id).outputs.model_outputs
    assert [output.model_id for output in outputs] == [model.model_id]
    (version,) = client.search_model_versions(f"run_id = '{best.info.run_id}'")
    assert version.source == f"models:/{model.model_id}"  # the registry page links the version to it


def test_publishing_the_winner_prints_no_third_party_warning_or_log_line(grid):
    for noise in ("UserWarning", "Add type hints", "INFO mlflow", "Validating input example", "\x1b["):
        assert noise not in grid.output, noise


def test_register_false_leaves_the_model_registry_empty(unregistered):
    invocation = unregistered
    client = invocation.store.client
    assert client.search_registered_models() == []
    assert all(not run.outputs.model_outputs for run in invocation.store.children())
    (parent,) = invocation.store.parents()
    assert parent.data.metrics["n_finished"] == 2 and "Model:" not in parent.data.tags[Tags.NOTE]
