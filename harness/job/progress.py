"""A one-line tqdm bar over a single run's training steps, drawn only when stderr is a terminal, at most
~10x/s (a sweep's jobs draw none: the sweep shows its own bar)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import numpy as np
from tqdm import tqdm

REDRAW_SECONDS = 0.1
BAR_FORMAT = "{desc} {bar} {n_fmt}/{total_fmt}{postfix}"


class StepProgress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True):
        stream = stream or sys.stderr
        self.bar = None
        if enabled and stream.isatty():
            self.bar = tqdm(
                total=total, desc=label, file=stream, bar_format=BAR_FORMAT, mininterval=REDRAW_SECONDS,
                dynamic_ncols=True,
            )  # fmt: skip
        self.last_loss_shown = 0.0

    def update(self, step: int, losses: np.ndarray) -> None:
        """Called after every step: cheap unless the bar is due a redraw."""
        if self.bar is None:
            return
        if len(losses) and time.monotonic() - self.last_loss_shown >= REDRAW_SECONDS:
            self.bar.set_postfix_str(f"loss {losses[-1]:.3g}", refresh=False)
            self.last_loss_shown = time.monotonic()
        self.bar.update(step + 1 - self.bar.n)

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
