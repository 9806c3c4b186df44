"""What reaches the terminal is the project's own lines: the libraries' log records and Python warnings
(MLflow's, Optuna's, matplotlib's, alembic's) go to a log file instead, the job's own
(`<job dir>/<name>.log`, where Hydra writes the job's log) or, in the process that launched a sweep,
the sweep's (`<sweep dir>/sweep.log`). A line a library repeats (Hydra's "Launching 2 jobs locally",
once per batch of a search) is shown once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LIBRARY_LOGGERS = ("mlflow", "optuna", "matplotlib", "alembic", "urllib3", "py.warnings", "git", "PIL")
REPEATED = ("hydra._internal.core_plugins.basic_launcher", "hydra_plugins.hydra_joblib_launcher._core")

_handlers: dict[Path, logging.Handler] = {}
_current: Path | None = None


def root_log_file() -> Path | None:
    """The file the root logger writes to (Hydra's job log), if it has one."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def route_library_logs(log_file: Path | None = None) -> None:
    """Send the libraries' records and Python's warnings to `log_file` (default: the file of the last
    call), never to the terminal; call again after a library that installs its own handler (Optuna)
    is imported."""
    global _current
    _current = Path(log_file) if log_file is not None else _current
    logging.captureWarnings(True)  # warnings.warn(...) becomes a record of the logger `py.warnings`
    if "optuna" in sys.modules:  # Optuna's own coloured handler on stderr
        import optuna

        optuna.logging.disable_default_handler()
    target = _handler(_current)
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(target)
        logger.propagate = False
        logger.setLevel(logging.INFO)  # what they say at INFO is in the file, whatever the root's level
    for name in REPEATED:
        logger = logging.getLogger(name)
        if not any(isinstance(found, ShownOnce) for found in logger.filters):
            logger.addFilter(ShownOnce())


def _handler(log_file: Path | None) -> logging.Handler:
    """The handler writing to `log_file`; the one before it is closed (a process running a sweep's
    jobs one after another would otherwise keep a file open per job)."""
    if log_file is None:
        return logging.NullHandler()
    if log_file not in _handlers:
        for old in _handlers.values():
            old.close()
        _handlers.clear()
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
        _handlers[log_file] = handler
    return _handlers[log_file]


class ShownOnce(logging.Filter):
    """Lets a message through the first time only."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True
