"""What only a search's report has (a sweep run with `hydra/sweeper=optuna`): the study it fed, its best
trial and that trial's loss curves, the optimisation history, the parameters' importances, the objective
against each parameter (slices) and the curves of the trials the pruner stopped.

The trials come from the study's own store (named on the parent run: `optuna.study_name`,
`optuna.storage`); the curves from MLflow, through the gateway, as every other figure's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from harness.analysis.data import Sweep
from harness.analysis.drawing import Drawer
from harness.analysis.summary import smooth_on_log_scale, smoothing_window
from harness.curves import PLOT_CEILING
from harness.tracking import KILLED, has_credentials, open_store

if TYPE_CHECKING:  # Optuna loads with a study (harness.search.study): a grid's report never needs it
    import optuna

SEARCH_FIGURE_TEXTS = {  # name: (title, caption)
    "search_curves": (
        "Best trial and pruned trials",
        "Training loss of the best trial's runs (bold) and of every run the pruner stopped (thin, ending "
        "where it was stopped), smoothed as the loss curves of a grid's report are: a rolling geometric "
        "mean over 2% of the steps.",
    ),
    "search_history": (
        "Optimisation history",
        "Each finished trial's objective (the mean over its seeds) in the order the study ran them, and the "
        "best so far; on a log axis when the values span more than two decades.",
    ),
    "search_importances": (
        "Parameter importances",
        "How much of the objective's variation each parameter explains (optuna.importance, PED-ANOVA).",
    ),
    "search_contour": (
        "The two most important parameters",
        "The objective of the finished trials over the two most important parameters (Optuna's contour "
        "plot): each dot is a trial; the shading is interpolated between them, not measured.",
    ),
    "search_slices": (
        "Slices",
        "The objective of each finished trial against each searched parameter, coloured by trial number; "
        "on a log axis when the values span more than two decades.",
    ),
}


@dataclass(frozen=True)
class SearchFacts:
    study: optuna.Study
    storage: str

    @property
    def facts(self) -> dict[str, str]:
        import optuna

        trials = self.study.get_trials(deepcopy=False)
        states = pd.Series([t.state.name for t in trials]).value_counts()
        found = {
            "study": f"{self.study.study_name} in {self.storage}",
            "trials": ", ".join(f"{n} {state.lower()}" for state, n in states.items()) or "none",
        }
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        if complete:
            best = self.study.best_trial
            params = " ".join(f"{key}={value}" for key, value in best.params.items())
            found["best trial"] = f"#{best.number}: {best.value:.4g} with {params}"
        return found


def search_of(sweep: Sweep) -> SearchFacts | None:
    """The study a search sweep fed, or None for a grid (or when its store cannot be read here)."""
    if sweep.root_run_id is None:
        return None
    store = open_store(sweep.tracking_uri)
    parent = store.run(sweep.root_run_id)
    name, storage = parent.data.params.get("optuna.study_name"), parent.data.params.get("optuna.storage")
    if name is None or storage is None or has_credentials(storage) or "***" in storage:
        return None
    from harness.search.study import load_existing, open_storage, storage_exists

    if not storage_exists(storage):
        return None
    study = load_existing(open_storage(storage), name)
    return SearchFacts(in_memory(study), storage) if study is not None else None


def in_memory(study: optuna.Study) -> optuna.Study:
    """A copy of the study's trials in memory: the figures are drawn with no read of its store."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not "A new study created in memory"
    try:
        copy = optuna.create_study(study_name=study.study_name, directions=study.directions)
    finally:
        optuna.logging.set_verbosity(verbosity)
    copy.add_trials(study.get_trials(deepcopy=False))
    return copy


def search_drawers(search: SearchFacts, runs: pd.DataFrame, curves: pd.DataFrame) -> dict[str, Drawer]:
    """A search's own figures, each drawn when called (in a worker of `harness.analysis.drawing`): the
    importances behind two of them are the slow part, and each figure computes its own side by side."""
    import optuna

    study = search.study
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    wide = objective_is_wide([trial.value for trial in complete])
    drawers = {
        "search_curves": lambda: curves_figure(study, runs, curves),
        "search_history": lambda: figure_of(optuna_plots().plot_optimization_history(study), wide),
        "search_importances": lambda: (
            figure_of(optuna_plots().plot_param_importances(study)) if len(complete) >= 2 else None
        ),
        "search_contour": lambda: contour_figure(study, complete, optuna_plots()),
        "search_slices": lambda: figure_of(optuna_plots().plot_slice(study), wide) if complete else None,
    }
    return {name: quietly(drawer) for name, drawer in drawers.items()}


def optuna_plots():
    from optuna.visualization import matplotlib

    return matplotlib


def quietly(drawer: Drawer) -> Drawer:
    """The drawer with warnings off: `optuna.visualization.matplotlib` is marked experimental, and each
    of its plots says so."""

    def drawn() -> Figure | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return drawer()

    return drawn


MIN_TRIALS_FOR_CONTOUR = 3  # fewer points than that interpolate nothing


def contour_figure(study: optuna.Study, complete: list, optuna_plots) -> Figure | None:
    """Optuna's contour plot over the two most important parameters: what a search explored, where a
    grid's heatmap would be mostly empty cells for combinations no trial tried."""
    if len(complete) < MIN_TRIALS_FOR_CONTOUR:
        return None
    varied = [name for name in complete[0].params if len({str(t.params.get(name)) for t in complete}) > 1]
    if len(varied) < 2:
        return None
    import optuna

    importances = optuna.importance.get_param_importances(study, params=varied)
    top_two = list(importances)[:2]
    figure = figure_of(optuna_plots.plot_contour(study, params=top_two))
    for ax in figure.axes:  # a log axis spanning under two decades labels every minor tick: they overlap
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    return figure


def objective_is_wide(values: list[float]) -> bool:
    """Do the objective's values span more than two decades (then a log axis shows them all)?"""
    return bool(values) and min(values) > 0 and max(values) > 100 * min(values)


def figure_of(axes, log_y: bool = False) -> Figure:
    drawn = list(np.ravel(axes)) if isinstance(axes, np.ndarray) else [axes]
    if log_y:
        for ax in drawn:
            ax.set_yscale("log")
    figure = drawn[0].figure
    figure.set_size_inches(max(figure.get_size_inches()[0], 7.0), 4.2)
    if len(figure.axes) == len(drawn):  # a colorbar (the slices') keeps the place Optuna gave it
        figure.tight_layout()
    return figure


def curves_figure(study: optuna.Study, runs: pd.DataFrame, curves: pd.DataFrame) -> Figure | None:
    if curves.empty or "optuna_trial" not in runs:
        return None
    trial_of = dict(zip(runs["run_id"], pd.to_numeric(runs["optuna_trial"], errors="coerce"), strict=True))
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial.number if complete else None
    pruned = set(runs.loc[(runs["status"] == KILLED) & runs["pruned_at_step"].notna(), "run_id"])
    shown = [run for run in runs["run_id"] if trial_of.get(run) == best or run in pruned]
    if not shown:
        return None
    figure, ax = plt.subplots(figsize=(7.0, 4.2))
    window = smoothing_window(int(curves["step"].max()) + 1)  # the grid report's window, over the longest run
    for run_id in shown:
        curve = curves[(curves["run_id"] == run_id) & np.isfinite(curves["loss"])]
        values = np.minimum(smooth_on_log_scale(curve["loss"], window), PLOT_CEILING)
        is_best = trial_of.get(run_id) == best
        label = f"trial {trial_of[run_id]:.0f}" + (" (best)" if is_best else " (pruned)")
        ax.plot(curve["step"], values, linewidth=2.0 if is_best else 0.8, alpha=1.0 if is_best else 0.6,
                color="C0" if is_best else "C3", label=label)  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize="small", ncol=2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (smoothed)")
    figure.tight_layout()
    return figure
