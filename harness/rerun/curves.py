"""A rerun's loss curve against the stored one: equal bit for bit, or where they part and by how much."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CurveComparison:
    stored_steps: int
    new_steps: int
    first_difference: int | None  # the first step (0-based, as MLflow's `loss` steps) that differs
    stored_value: float | None = None  # the losses at that step, when both curves reach it
    new_value: float | None = None

    @property
    def identical(self) -> bool:
        return self.first_difference is None

    def describe(self) -> str:
        """`bit-identical: 3000 steps` or `first differs at step 17: ...`."""
        if self.identical:
            return f"bit-identical: the same loss at all {self.stored_steps} steps"
        step = self.first_difference
        if self.stored_value is None or self.new_value is None:
            return (
                f"first differs at step {step}: the stored curve has {self.stored_steps} steps, "
                f"the rerun's {self.new_steps} (identical until then)"
            )
        change = self.new_value - self.stored_value
        relative = abs(change) / max(abs(self.stored_value), np.finfo(float).tiny)
        return (
            f"first differs at step {step}: loss {self.new_value!r} against {self.stored_value!r} stored "
            f"(by {change:+.3g}, {relative:.2g} relative)"
        )


def compare_curves(stored: np.ndarray, new: np.ndarray) -> CurveComparison:
    """Compared as bit patterns: -0.0 is not 0.0, and a NaN equals only the same NaN."""
    stored, new = np.ascontiguousarray(stored, np.float64), np.ascontiguousarray(new, np.float64)
    common = min(len(stored), len(new))
    differs = np.flatnonzero(stored[:common].view(np.uint64) != new[:common].view(np.uint64))
    if len(differs):
        step = int(differs[0])
        return CurveComparison(len(stored), len(new), step, float(stored[step]), float(new[step]))
    if len(stored) != len(new):
        return CurveComparison(len(stored), len(new), common)
    return CurveComparison(len(stored), len(new), None)
