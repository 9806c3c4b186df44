"""A search's report draws what a search has: its trials over the two most important parameters (not a
grid's heatmap of mostly empty cells), and loss curves smoothed as a grid's are (no cliff where a
window's start leaves the first, huge losses behind)."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from harness.analysis.summary import smooth_on_log_scale, smoothing_window
from harness.report.search import contour_figure, curves_figure

from .conftest import run_harness

SETTLED = 10


def seed_like_curve(steps: int = 3000) -> np.ndarray:
    """A loss as the post's init gives it: ~1e6 for the first steps, then ~1e-2 from step SETTLED on."""
    step = np.arange(steps)
    return np.where(step < SETTLED, 1e6, 1e-2 * (1 + 0.3 * np.sin(step / 7.0)))


def test_the_best_trials_curve_has_no_cliff_where_the_smoothing_window_starts():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.01}, distributions={
        "lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}, value=0.1))  # fmt: skip
    loss = seed_like_curve()
    curves = pd.DataFrame({"run_id": "r0", "step": np.arange(len(loss)), "loss": loss})
    runs = pd.DataFrame(
        {"run_id": ["r0"], "optuna_trial": [0], "status": ["FINISHED"], "pruned_at_step": [None]}
    )

    (line,) = curves_figure(study, runs, curves).axes[0].lines
    drawn = np.log10(line.get_ydata())
    window = smoothing_window(len(loss))
    # the raw loss is flat (within 0.3 of 1e-2) from step SETTLED on: once the window has moved past the
    # real fall, the drawn curve is flat too, with no second fall where the window's start passes it
    after = np.arange(1, len(loss)) >= SETTLED + window
    assert np.abs(np.diff(drawn))[after].max() < 0.2  # decades in one step
    expected = smooth_on_log_scale(pd.Series(loss), window)  # the grid report's smoothing
    assert np.allclose(line.get_ydata(), expected)


def test_the_contour_is_over_the_two_most_important_parameters():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        width = trial.suggest_categorical("width", [16, 32, 64])
        seed_noise = trial.suggest_float("noise", 0.0, 1.0)
        return (np.log10(lr) + 2.5) ** 2 + width / 64 + 1e-3 * seed_noise

    study.optimize(objective, n_trials=20)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    from optuna.visualization import matplotlib as optuna_plots

    figure = contour_figure(study, complete, optuna_plots)
    labels = {figure.axes[0].get_xlabel(), figure.axes[0].get_ylabel()}
    assert labels == {"lr", "width"}  # `noise` barely matters: left out


@pytest.mark.slow
def test_a_search_report_has_the_contour_and_no_grid_heatmap(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_harness(
        tmp_path, uri, "-m", "hydra/sweeper=optuna", "lr=tag(log,interval(1e-3,1e-1))",
        "width=choice(8,16,32)", "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=1",
        "hydra/sweeper/pruner=none", f"hydra.sweep.dir={tmp_path / 'multirun'}",
    )  # fmt: skip
    report = next((tmp_path / "reports").glob("*/report.html"))
    written = {path.name for path in report.parent.iterdir()}
    assert "search_contour.png" in written and "heatmap.png" not in written, result.stdout[-2000:]
    html = report.read_text()
    assert "The two most important parameters" in html and "Heatmap" not in html
