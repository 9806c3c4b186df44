"""A one-line progress bar over a single run's training steps, drawn only when stderr is a terminal, at
most ~10x/s (a sweep's jobs draw none: the sweep shows its own bar)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import numpy as np

REDRAW_SECONDS = 0.1
BAR_WIDTH = 30


class StepProgress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.drawn = False
        self.last_draw = 0.0

    def update(self, step: int, losses: np.ndarray) -> None:
        done = step + 1
        if not self.enabled or (done < self.total and time.monotonic() - self.last_draw < REDRAW_SECONDS):
            return
        filled = BAR_WIDTH * done // max(self.total, 1)
        loss = f" loss {losses[-1]:.3g}" if len(losses) else ""
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}{loss}")
        self.stream.flush()
        self.drawn, self.last_draw = True, time.monotonic()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
