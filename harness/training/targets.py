"""The functions a run fits, by name. `conf/target/<name>.yaml` selects one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def seed_target(x: np.ndarray) -> np.ndarray:
    """The seed post's target, in its own order of terms."""
    return 2.777 * x**2 + 0.123 - 1.5 * x**3 + np.sin(4.0 * x)


TARGETS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "seed": seed_target,
    "sine": lambda x: np.sin(2.0 * np.pi * x),
    "abs": np.abs,
    "bump": lambda x: np.exp(-10.0 * x**2),
}
