"""How a sweep came out, in a few numbers and one sentence: what its parent run shows in the MLflow UI
and which run's network becomes the sweep's model. The runner reads it at the end of a sweep."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.analysis.data import find_sweep, sweep_runs
from harness.analysis.summary import RANK_METRIC, summarize
from harness.report.verdict import verdict
from harness.tracking import FINISHED


@dataclass(frozen=True)
class SweepOutcome:
    sweep_id: str
    n_finished: int
    n_failed: int
    best_setting: str | None  # None when nothing finished
    best_eval_mse: float  # the best setting's mean over seeds (NaN when nothing finished)
    best_final_loss: float
    best_run_id: str | None  # the best setting's best seed: the run whose network wins
    verdict: str

    def metrics(self) -> dict[str, float]:
        """The parent run's metrics: counts always, the best values when something finished."""
        values = {"n_finished": self.n_finished, "n_failed": self.n_failed}
        for name in ("best_eval_mse", "best_final_loss"):
            if not math.isnan(getattr(self, name)):
                values[name] = getattr(self, name)
        return values


def sweep_outcome(experiment: str, sweep_id: str, tracking_uri: str) -> SweepOutcome:
    """The outcome of the sweep `sweep_id`, read from the store through the gateway."""
    found = find_sweep(experiment, sweep_id, tracking_uri)
    runs = sweep_runs(found)
    summary = summarize(runs, found.setting_keys)
    n_finished = int((runs["status"] == FINISHED).sum())
    ranked = summary.dropna(subset=[f"{RANK_METRIC}_mean"])
    best = ranked.iloc[0] if len(ranked) else None
    return SweepOutcome(
        sweep_id=sweep_id,
        n_finished=n_finished,
        n_failed=len(runs) - n_finished,
        best_setting=None if best is None else best["setting"],
        best_eval_mse=math.nan if best is None else float(best[f"{RANK_METRIC}_mean"]),
        best_final_loss=math.nan if best is None else float(best["final_loss_mean"]),
        best_run_id=None if best is None else best["best_run_id"],
        verdict=verdict(runs, summary),
    )
