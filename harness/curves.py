"""Loss curves as the job's `loss.png` and the report both draw them: one smoothing, one drawable ceiling.

A leaf module: the runner and the report each import it, and neither imports the other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# a job run's artifact: `loss`, the loss at every step (the `loss` metric may hold window means)
CURVE_FILE = "curve.npz"
PLOT_CEILING = 1e100  # larger values (a run on its way to overflow) are drawn at this height: log axes
# spanning ~300 decades overflow matplotlib's tick locator


def smooth(values: np.ndarray | pd.Series, window: int) -> np.ndarray:
    """Moving average over `window` steps (shorter at the start). Pandas' rolling sum keeps its
    precision after a spike, where a difference of cumulative sums would lose it."""
    return pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().to_numpy()
