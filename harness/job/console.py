"""The terminal during a sweep: one progress display (the sweep's bar, `harness.sweep.progress`),
above which only what went wrong is written; each job's full log stays in its log file. Without a
terminal (a pipe, CI) nothing changes here: every line is kept, and the progress is plain lines.
"""

from __future__ import annotations

import logging

_progress = None  # the sweep's SweepProgress in this process, if any


# Hydra's launchers list every job as they start it ("#3 : lr=0.1"): on a terminal the bar says as much
LAUNCHER_LOGGERS = (
    "hydra._internal.core_plugins.basic_launcher",
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher",
    "hydra_plugins.hydra_joblib_launcher._core",
)


def set_active_progress(progress) -> None:
    """The sweep's progress in this process; on a terminal its bar replaces the launchers' job lists."""
    global _progress
    _progress = progress
    if progress is not None and progress.on_terminal:
        for name in LAUNCHER_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        clear_the_bar_before_lines()  # the sweeper's own lines in this process (a search's study)


def clear_the_bar_before_lines() -> None:
    """On the console's handlers as they are now, and on the project's own logger (Hydra's launchers
    make new handlers for every batch they launch)."""
    for filtered in [*_console_handlers(), logging.getLogger("harness")]:
        if not any(isinstance(found, ClearsTheBar) for found in filtered.filters):
            filtered.addFilter(ClearsTheBar())


def _console_handlers() -> list[logging.StreamHandler]:
    return [
        handler
        for handler in logging.getLogger().handlers
        if type(handler) is logging.StreamHandler and _is_terminal(handler.stream)
    ]


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed (a handler left on a closed stream)
        return False


class ClearsTheBar(logging.Filter):
    """Takes the sweep's bar off the terminal before a line is written (the next poll draws it again)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _progress is not None:
            _progress.clear()
        return True


def quiet_job_console() -> None:
    """In a sweep's job on a terminal: the console shows warnings and errors only, under the bar."""
    for handler in _console_handlers():
        handler.setLevel(logging.WARNING)
    clear_the_bar_before_lines()


def restore_console() -> None:
    """The sweep is over: the console shows everything again (the sweep's outcome, the report's path)."""
    set_active_progress(None)
    for handler in _console_handlers():
        handler.setLevel(logging.NOTSET)
    for name in LAUNCHER_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
