"""A page's figures drawn side by side, one process a figure, each on a core of its own.

Matplotlib draws on one core, and the layout and rendering of a large sweep's figures take seconds
each (the 256-job study: loss curves and sensitivity ~2 s apiece). Workers are forked after the
sweep is read, so each inherits the data and its drawer, and returns only the PNG's bytes; the
figures are the same bytes as drawn one after another (tests/report/test_report_files.py checks).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable

from matplotlib.figure import Figure

from harness.analysis.figures import report_style
from harness.analysis.render import ReportFigure, report_figure

Drawer = Callable[[], Figure | None]  # None: the figure says nothing for this sweep

_drawers: dict[str, tuple[tuple[str, str], Drawer]] = {}  # what forked workers find, by name


def _draw(name: str) -> ReportFigure | None:
    texts, drawer = _drawers[name]
    with report_style():
        figure = drawer()
        return None if figure is None else report_figure(name, texts, figure)


def _quiet_worker() -> None:
    """A worker inherits its parent's signal handlers; a sweep's launching process raises on SIGTERM
    (harness.job.signals), and the pool ends its workers with SIGTERM: each printed 'Process
    ForkPoolWorker-1:' and a traceback amid the sweep's output. Here SIGTERM ends a worker silently,
    and Ctrl-C is the parent's to answer (leaving its pool's block ends the workers)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def usable_cores() -> int:
    """The cores this process may run on: a SLURM allocation or taskset may give fewer than the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def draw_figures(
    drawers: dict[str, tuple[tuple[str, str], Drawer]], workers: int | None = None
) -> list[ReportFigure]:
    """Each drawer's figure as a ReportFigure (title and caption from its texts), in the drawers' order,
    skipping those that draw nothing. `workers` processes (default: one per figure, at most one per
    usable core); one, or a platform without fork, draws them here, one after another."""
    workers = min(len(drawers), usable_cores()) if workers is None else workers
    _drawers.update(drawers)  # set before the pool forks its workers: they find them here
    try:
        if workers <= 1 or not sys.platform.startswith("linux"):  # fork elsewhere is absent or unsafe
            drawn = [_draw(name) for name in drawers]
        else:
            # leaving the block terminates the workers: none goes on drawing for a command interrupted
            with multiprocessing.get_context("fork").Pool(workers, initializer=_quiet_worker) as pool:
                drawn = pool.map(_draw, drawers, chunksize=1)
    finally:
        _drawers.clear()
    return [figure for figure in drawn if figure is not None]
