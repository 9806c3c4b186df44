"""What a job leaves besides MLflow calls: figures, files, the progress bar."""

from __future__ import annotations

import io

import numpy as np
import pytest

from harness.checks.schema import task_config
from harness.curves import smooth
from harness.job.artifacts import write_artifacts
from harness.job.plots import plot_loss
from harness.job.progress import StepProgress
from harness.training.loop import train

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_finished_job_writes_every_artifact(compose_config, tmp_path):
    task = task_config(compose_config("steps=20", "width=4"))
    result = train(task)
    written = write_artifacts(result, task, "steps=20", tmp_path)
    assert sorted(p.name for p in written) == sorted(
        ["config.yaml", "graph.dot", "curve.npz", "loss.png", "fit.png", "fit.npz", "model.npz"]
    )
    assert list(np.load(tmp_path / "curve.npz")["loss"]) == list(result.losses)
    assert (tmp_path / "fit.png").read_bytes().startswith(PNG)
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG)
    assert "lr: 0.001" in (tmp_path / "config.yaml").read_text()
    assert set(np.load(tmp_path / "fit.npz")) == {"x", "y_pred", "y_target"}
    assert np.load(tmp_path / "model.npz")["layers.0.weight"].shape == (4, 1)


def test_a_diverged_job_writes_no_fit(compose_config, tmp_path):
    task = task_config(compose_config("optimizer=sgd", "steps=50"))
    written = write_artifacts(train(task), task, "sgd", tmp_path)
    assert sorted(p.name for p in written) == ["config.yaml", "curve.npz", "graph.dot", "loss.png"]


def test_smoothing_is_a_trailing_moving_average():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert smooth(values, 2) == pytest.approx([1.0, 1.5, 2.5, 3.5, 4.5])
    assert smooth(values, 1) == pytest.approx(values)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_on_a_terminal_only_and_not_in_a_sweeps_job():
    terminal, pipe, in_sweep = FakeTerminal(), io.StringIO(), FakeTerminal()
    for stream, enabled in ((terminal, True), (pipe, True), (in_sweep, False)):
        bar = StepProgress("lr=0.1", 200, stream, enabled=enabled)
        bar.update(99, np.ones(100))
        bar.close()
    last = terminal.getvalue().split("\r")[-1]
    assert last.startswith("lr=0.1 ") and "100/200, loss 1" in last
    assert terminal.getvalue().endswith("\n") and terminal.getvalue().count("\n") == 1
    assert pipe.getvalue() == "" and in_sweep.getvalue() == ""


def test_figures_drawn_one_after_another_in_one_process_show_only_their_own_data(tmp_path):
    """The figure is set up once per process and redrawn: nothing of a job may stay in the next one's."""
    from harness.job import plots

    plot_loss(np.linspace(5.0, 1.0, 300), tmp_path / "a.png", "first")
    plot_loss(np.array([-1.0, 2.0, 3.0]), tmp_path / "b.png", "second")
    axes = plots._loss_plot().axes
    assert [len(line.get_xdata()) for line in axes.lines] == [3, 3]
    assert axes.get_title() == "second" and axes.get_yscale() == "linear"  # a negative value: no log axis
    assert axes.get_xlim()[1] < 10
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["loss", "moving average (1 steps)"]
    assert (tmp_path / "b.png").read_bytes() != (tmp_path / "a.png").read_bytes()


def test_a_diverging_curve_is_drawn_clipped(tmp_path):
    plot_loss(np.array([9.2e5, 5.1e53, 2.9e292]), tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG)


@pytest.mark.slow
def test_what_a_search_leaves_in_its_directory_is_ignored_by_git(tmp_path, run_harness):
    """A new user's clone stays clean: every file a sweep or a search writes beside the command (the
    MLflow store, the study's store and their locks, multirun/, reports/) matches the repo's .gitignore."""
    import shutil
    import subprocess

    from harness.checks.schema import REPO_ROOT

    run_harness(
        tmp_path, "-m", "hydra/sweeper=optuna", "lr=interval(1e-3,1e-2)", "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=1", "steps=20", uri=None,
    )  # fmt: skip
    assert (tmp_path / "optuna.db").exists() and (tmp_path / "mlflow.db").exists()
    shutil.copy(REPO_ROOT / ".gitignore", tmp_path / ".gitignore")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert status.stdout.splitlines() == ["?? .gitignore"]


def test_a_sweeps_job_quiets_the_console_even_when_a_handler_writes_to_a_closed_stream():
    """A root handler left on a closed stream (a finished test's capture, a closed file) is no terminal:
    quieting the console skips it instead of raising ValueError from isatty()."""
    import io
    import logging

    from harness.job.console import quiet_job_console

    closed = io.StringIO()
    closed.close()
    handler = logging.StreamHandler(closed)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        quiet_job_console()
        assert handler.level == logging.NOTSET  # not taken for a terminal, so left as it was
    finally:
        root.removeHandler(handler)
