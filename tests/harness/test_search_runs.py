"""Real Optuna searches (`hydra/sweeper=optuna`) into fresh stores, with the basic and joblib launchers:
trial counts and states, every trial a child run of the sweep's parent, a pruned trial, a diverged
trial, seeds averaged per trial, resume, and bad input refused before anything is written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from harness.checks.preflight import check_command_line
from harness.checks.sweep_plan import display_value
from harness.checks.validation import ConfigError
from harness.tracking import FAILED, FINISHED, KILLED, Tags

SEARCH = ["-m", "hydra/sweeper=optuna", "report=false"]
# A grid in a known order: two settings that learn, one too slow to (pruned once two have finished),
# one that diverges at once (FAILED, before its first report).
PRUNING = [
    *SEARCH, "hydra/sweeper/sampler=grid", "lr=choice(3e-3,1e-3,1e-6,1e8)", "hydra.sweeper.n_jobs=1",
    "hydra.sweeper.pruner.n_startup_trials=2", "hydra.sweeper.pruner.n_warmup_steps=100", "steps=300",
]  # fmt: skip
# Trials in flight trained as one batch (hydra/launcher=vectorized): the second pair, one model on the
# engine's runs axis, has one run the pruner stops (lr=1e-6) and one it lets finish (lr=0.01).
BATCHED = [
    *SEARCH, "hydra/launcher=vectorized", "hydra.launcher.n_jobs=1", "hydra/sweeper/sampler=grid",
    "lr=choice(3e-3,1e-3,1e-6,1e-2)", "hydra.sweeper.n_jobs=2", "hydra.sweeper.pruner.n_startup_trials=2",
    "hydra.sweeper.pruner.n_warmup_steps=100", "steps=300",
]  # fmt: skip
SEEDED = [
    *SEARCH, "hydra/launcher=joblib", "hydra/sweeper/pruner=none", "hydra.sweeper.n_trials=2",
    "hydra.sweeper.n_jobs=2", "hydra.sweeper.seeds_per_trial=2", "lr=tag(log,interval(1e-4,1e-2))",
    "width=choice(16,32)", "steps=100",
]  # fmt: skip


def name(lr: float) -> str:
    return f"lr={display_value(float(lr))}"


def fresh_dir(tmp_path_factory, empty_store, name: str) -> Path:
    directory = tmp_path_factory.mktemp(name)
    shutil.copy(empty_store, directory / "mlflow.db")
    return directory


def study_of(directory: Path) -> optuna.Study:
    (summary,) = optuna.get_all_study_summaries(storage=f"sqlite:///{directory}/optuna.db")
    return optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{directory}/optuna.db")


@pytest.fixture(scope="session")
def pruning_search(tmp_path_factory, empty_store, run_harness):
    return run_harness(fresh_dir(tmp_path_factory, empty_store, "pruning"), *PRUNING)


@pytest.fixture(scope="session")
def batched_search(tmp_path_factory, empty_store, run_harness):
    return run_harness(fresh_dir(tmp_path_factory, empty_store, "batched"), *BATCHED)


@pytest.fixture(scope="session")
def seeded_search(tmp_path_factory, empty_store, run_harness):
    return run_harness(fresh_dir(tmp_path_factory, empty_store, "seeded"), *SEEDED)


@pytest.mark.slow
def test_every_trial_is_a_child_run_of_the_sweeps_parent_tagged_with_its_trial(pruning_search):
    store = pruning_search.store
    (parent,) = store.parents()
    children = store.children(parent)
    assert len(children) == 4 == len(store.children())
    study = study_of(pruning_search.cwd)
    assert {run.data.tags[Tags.OPTUNA_STUDY] for run in children} == {study.study_name}
    by_trial = {int(run.data.tags[Tags.OPTUNA_TRIAL]): run for run in children}
    assert sorted(by_trial) == [0, 1, 2, 3]
    for trial in study.trials:  # the grid in its order, each run named by its value
        assert by_trial[trial.number].info.run_name == name(trial.params["lr"])


@pytest.mark.slow
def test_the_study_holds_each_trial_as_its_run_ended(pruning_search):
    study = study_of(pruning_search.cwd)
    states = {trial.params["lr"]: trial.state for trial in study.trials}
    assert states == {0.003: TrialState.COMPLETE, 0.001: TrialState.COMPLETE, 1e-06: TrialState.PRUNED,
                      1e8: TrialState.FAIL}  # fmt: skip
    runs = {run.info.run_name: run for run in pruning_search.store.children()}
    assert [runs[name(lr)].info.status for lr in (0.003, 0.001, 1e-06, 1e8)] == [
        FINISHED,
        FINISHED,
        KILLED,
        FAILED,
    ]
    for trial in study.trials:
        if trial.state == TrialState.COMPLETE:
            assert trial.value == runs[name(trial.params["lr"])].data.metrics["eval_mse"]


@pytest.mark.slow
def test_a_pruned_trial_ends_killed_with_its_step_reason_and_curve(pruning_search, tmp_path):
    store = pruning_search.store
    (pruned,) = [run for run in store.children() if run.info.status == KILLED]
    step = int(pruned.data.tags[Tags.PRUNED_AT_STEP])
    assert 100 <= step < 300 and int(pruned.data.tags[Tags.FAILURE_STEP]) == step
    assert pruned.data.tags[Tags.FAILURE_REASON].startswith(f"pruned by MedianPruner at step {step}")
    curve = store.curve(pruned, tmp_path)  # curve.npz: every step it ran, and none after
    assert len(curve) == step and np.isfinite(curve).all()
    history = store.loss_history(pruned)  # window means of log_every_n_steps, as any run's
    assert [point.step for point in history] == store.logged_steps(step)
    assert history[-1].value == pytest.approx(curve[-10:].mean(), rel=1e-12)
    assert "eval_mse" not in pruned.data.metrics and "fit.npz" not in store.artifacts(pruned)
    trial = next(t for t in study_of(pruning_search.cwd).trials if t.state == TrialState.PRUNED)
    assert max(trial.intermediate_values) == step


@pytest.mark.slow
def test_a_vectorized_batch_prunes_one_run_and_trains_the_other_to_the_end(batched_search, tmp_path):
    store, study = batched_search.store, study_of(batched_search.cwd)
    assert "Vectorized launcher is launching 2 jobs" in batched_search.output
    runs = store.by_name()
    pruned, kept = runs[name(1e-6)], runs[name(1e-2)]
    # one batch: each run's train_seconds is its share of the batch's time
    assert pruned.data.metrics["train_seconds"] == kept.data.metrics["train_seconds"]
    step = int(pruned.data.tags[Tags.PRUNED_AT_STEP])
    assert (pruned.info.status, kept.info.status) == (KILLED, FINISHED) and 100 <= step < 300
    assert len(store.curve(pruned, tmp_path / "pruned")) == step
    assert len(store.curve(kept, tmp_path / "kept")) == 300
    states = {trial.params["lr"]: trial for trial in study.trials}
    assert states[1e-6].state == TrialState.PRUNED and max(states[1e-6].intermediate_values) == step
    assert states[1e-2].state == TrialState.COMPLETE
    assert states[1e-2].value == kept.data.metrics["eval_mse"]


@pytest.mark.slow
def test_a_diverged_trial_is_failed_in_mlflow_and_in_the_study(pruning_search):
    (diverged,) = [run for run in pruning_search.store.children() if run.info.status == FAILED]
    assert diverged.data.tags[Tags.FAILURE_REASON].startswith("loss ")  # not finite, or past the bound
    assert diverged.data.tags[Tags.OPTUNA_TRIAL] == "3"


@pytest.mark.slow
def test_the_parent_run_records_the_study_and_its_best_trial(pruning_search):
    (parent,) = pruning_search.store.parents()
    study = study_of(pruning_search.cwd)
    params, metrics = parent.data.params, parent.data.metrics
    assert params["optuna.study_name"] == study.study_name == parent.data.tags[Tags.OPTUNA_STUDY]
    assert params["optuna.storage"] == f"sqlite:///{pruning_search.cwd}/optuna.db"
    assert params["optuna.sampler"] == "OrderedGridSampler"
    assert params["optuna.pruner"] == "MedianPruner"
    assert params["optuna.best.lr"] == str(study.best_params["lr"])
    assert metrics["optuna.best_value"] == study.best_value
    assert (metrics["optuna.n_complete"], metrics["optuna.n_pruned"], metrics["optuna.n_failed"]) == (2, 1, 1)
    assert (params["lr"], params["n_jobs"]) == (
        "choice(3e-3,1e-3,1e-6,1e8)",
        "4",
    )  # the space; the grid's size
    assert (
        parent.data.tags[Tags.NOTE].startswith("Search `")
        and "over lr=choice(3e-3" in parent.data.tags[Tags.NOTE]
    )
    assert parent.info.status == FINISHED


@pytest.mark.slow
def test_a_trial_with_several_seeds_is_valued_at_their_mean(seeded_search):
    study = study_of(seeded_search.cwd)
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE] * 2
    runs = seeded_search.store.children()
    assert len(runs) == 4
    for trial in study.trials:
        seeds = [run for run in runs if run.data.tags[Tags.OPTUNA_TRIAL] == str(trial.number)]
        assert sorted(run.data.params["seed"] for run in seeds) == ["0", "1"]
        mean = sum(run.data.metrics["eval_mse"] for run in seeds) / 2
        assert trial.value == pytest.approx(mean, rel=1e-12)
        assert all(run.info.run_name.endswith(f"seed={run.data.params['seed']}") for run in seeds)


@pytest.mark.slow
def test_rerunning_a_search_continues_its_study_to_n_trials(store_dir, run_harness, monkeypatch):
    command = [*SEARCH, "hydra/sweeper/sampler=random", "hydra/sweeper/pruner=none", "lr=interval(1e-4,1e-2)",
               "steps=50", "hydra.sweeper.n_jobs=1"]  # fmt: skip
    run_harness(store_dir, *command, "hydra.sweeper.n_trials=1")
    second = run_harness(store_dir, *command, "hydra.sweeper.n_trials=2")
    study = study_of(store_dir)
    assert len(study.trials) == 2
    assert study.trials[0].params != study.trials[1].params  # the resumed sampler drew anew
    assert "1 of 2 trials already there" in second.output
    assert len(second.store.parents()) == 2 and len(second.store.children()) == 2

    monkeypatch.setenv("MLFLOW_TRACKING_URI", second.store.uri)
    other_space = [*command[1:], "lr=interval(1e-3,1e-1)", f"hydra.sweeper.study_name={study.study_name}"]
    with pytest.raises(ConfigError) as refused:
        check_command_line(["-m", *other_space])
    assert str(refused.value).startswith(f"hydra.sweeper.study_name={study.study_name} in sqlite:///")
    assert "was made for another search (space:" in str(refused.value)
    assert len(study_of(store_dir).trials) == 2


BAD_SEARCHES = [
    ([], "the search space is empty"),
    (["lr=0.1"], "the search space is empty"),
    (["lr=tag(log,interval(0,1))"], "lr=tag(log,interval(0,1)):"),
    (["lr=interval(1,0.1)"], "lr=interval(1,0.1):"),
    (["width=choice()"], "could not read the command line: Error parsing override 'width=choice()'"),
    (["lr=interval(-1,1)"], "lr=-1.0 is not allowed: lr must be a number > 0"),
    (["width=choice(16,0)"], "width=0 is not allowed: width must be an integer >= 1"),
    (["lr=interval(1e-4,1)", "hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0: must be a positive"),
    (["lr=interval(1e-4,1)", "hydra.sweeper.n_jobs=-1"], "hydra.sweeper.n_jobs=-1: must be a positive"),
    (["lr=interval(1e-4,1)", "hydra/sweeper/sampler=nope"], "hydra/sweeper/sampler=nope is not allowed"),
    (["lr=interval(1e-4,1)", "hydra/sweeper/pruner=nope"], "hydra/sweeper/pruner=nope is not allowed"),
    (["lr=interval(1e-4,1)", "hydra/sweeper/sampler=grid"], "hydra/sweeper/sampler=grid: lr: a grid needs"),
    (["lr=interval(1e-4,1)", "hydra.sweeper.direction=up"], "hydra.sweeper.direction=up: allowed: minimize"),
    (["lr=interval(1e-4,1)", "hydra/sweeper/pruner=successive_halving",
      "hydra.sweeper.pruner.reduction_factor=1"],
     "hydra.sweeper.pruner (optuna.pruners.SuccessiveHalvingPruner): The value of `reduction_factor` is 1"),
    (["seed=choice(0,1)", "hydra.sweeper.seeds_per_trial=2"], "seed is searched and hydra.sweeper.seeds_per"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "message"), BAD_SEARCHES)
def test_a_search_that_cannot_run_is_one_line_before_anything_is_written(
    tmp_path, monkeypatch, arguments, message
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    with pytest.raises(ConfigError) as refused:
        check_command_line(["-m", "hydra/sweeper=optuna", *arguments])
    text = str(refused.value)
    assert text.startswith(message), text
    assert "\n" not in text
    assert list(tmp_path.iterdir()) == []


def test_the_gp_sampler_is_refused_up_front_without_torch(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    command = ["-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=gp", "lr=interval(1e-4,1)"]
    if importlib.util.find_spec("torch") is not None:
        assert check_command_line(command) == 20
        return
    with pytest.raises(ConfigError, match="^hydra/sweeper/sampler=gp needs torch"):
        check_command_line(command)


def test_the_study_cannot_share_the_mlflow_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    with pytest.raises(
        ConfigError, match="is the MLflow store: Optuna and MLflow cannot share one sqlite file"
    ):
        check_command_line(["-m", "hydra/sweeper=optuna", "lr=interval(1e-4,1)",
                            f"hydra.sweeper.storage=sqlite:///{tmp_path}/mlflow.db"])  # fmt: skip


def test_a_named_search_checks_and_counts_its_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    assert check_command_line(["-m", "sweeps=search_adamw"]) == 48 * 2
    assert check_command_line(["-m", "sweeps=search_adamw", "hydra.sweeper.n_trials=4"]) == 4 * 2
    grid = ["-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "lr=choice(1e-3,1e-2)"]
    assert check_command_line([*grid, "width=choice(8,16)"]) == 4  # the grid's points, under n_trials=20
    assert check_command_line([*grid, "width=range(1,40)", "hydra.sweeper.n_trials=30"]) == 30


@pytest.mark.slow
def test_a_searchs_report_shows_its_study_history_importances_slices_and_curves(pruning_search, tmp_path):
    from harness.report import build_report, find_sweep

    files = build_report(find_sweep(tracking_uri=pruning_search.store.uri), tmp_path)
    figures = {path.name for path in files.figures}
    assert {f"search_{name}.png" for name in ("curves", "history", "importances", "slices")} <= figures
    assert "loss_curves.png" not in figures  # a panel per trial: the search's own curves replace them
    study = study_of(pruning_search.cwd)
    markdown = files.markdown.read_text()
    assert f"{study.study_name} in sqlite:///{pruning_search.cwd}/optuna.db" in markdown
    assert f"#{study.best_trial.number}: {study.best_value:.4g} with lr={study.best_params['lr']}" in markdown
    assert "1 complete" not in markdown and "2 complete" in markdown and "1 pruned" in markdown


ABANDON = """
import sys, optuna
from harness.search.stale_trials import claim
study = optuna.load_study(study_name=sys.argv[1], storage=sys.argv[2])
for _ in range(2):
    claim(study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2)}))
"""  # two trials asked, then the process is gone as after `kill -9`: they stay RUNNING


@pytest.mark.slow
def test_trials_a_gone_search_left_running_are_failed_and_retried_to_reach_n_trials(store_dir, run_harness):
    command = [*SEARCH, "hydra/sweeper/sampler=random", "hydra/sweeper/pruner=none", "lr=interval(1e-4,1e-2)",
               "steps=50", "hydra.sweeper.n_jobs=1", "hydra.sweeper.n_trials=3"]  # fmt: skip
    run_harness(store_dir, *command[:-1], "hydra.sweeper.n_trials=1")
    study = study_of(store_dir)
    storage = f"sqlite:///{store_dir}/optuna.db"
    subprocess.run([sys.executable, "-c", ABANDON, study.study_name, storage], check=True, timeout=120)
    abandoned = {t.number: t.params for t in study_of(store_dir).trials if t.state == TrialState.RUNNING}
    assert len(abandoned) == 2

    rerun = run_harness(store_dir, *command)

    trials = study_of(store_dir).trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3  # n_trials evaluated, the stale ones not counted
    assert {t.number: t.state for t in trials if t.number in abandoned} == dict.fromkeys(
        abandoned, TrialState.FAIL
    )
    assert all(t.user_attrs.get("stale") for t in trials if t.number in abandoned)
    assert [t.params for t in complete[1:]] == list(abandoned.values())  # retried, in order
    assert "left RUNNING by a search that is gone" in rerun.output
    parents = len(rerun.store.parents())

    nothing = run_harness(store_dir, *command)

    assert nothing.output.strip().startswith("nothing to run: study ")
    assert "already holds 3 trials of hydra.sweeper.n_trials=3" in nothing.output
    assert len(nothing.store.parents()) == parents  # no empty sweep run
    assert len(study_of(store_dir).trials) == len(trials)


@pytest.mark.slow
def test_a_search_prints_no_library_noise_and_counts_pruned_trials_apart(tmp_path, empty_store, run_harness):
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    arguments = [argument for argument in PRUNING if argument != "report=false"]  # the report draws too
    searched = run_harness(tmp_path, *arguments, "hydra.sweeper.n_jobs=2")
    output = searched.output
    for noise in ("\x1b[", "UserWarning", "categorical units", "INFO mlflow", "] A new study created"):
        assert noise not in output, noise
    assert output.count("Launching 2 jobs locally") == 1  # once, not once per batch of trials
    states = [trial.state for trial in study_of(tmp_path).trials]
    counts = {
        "finished": states.count(TrialState.COMPLETE),
        "failed": states.count(TrialState.FAIL),
        "pruned": states.count(TrialState.PRUNED),
    }
    assert counts["pruned"] >= 1
    expected = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    assert f"sweep 4/4 jobs done ({expected})" in output
    assert re.search(rf"sweep \S+ done: {re.escape(expected)}$", output, flags=re.MULTILINE)
