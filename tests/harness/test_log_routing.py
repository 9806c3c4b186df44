"""The libraries' log records and warnings go to a log file, never to the terminal."""

from __future__ import annotations

import logging
import warnings

import pytest

from harness.log_routing import LIBRARY_LOGGERS, route_library_logs


@pytest.fixture(autouse=True)
def logging_put_back():
    """The routing changes this process's loggers: put them back for the tests after this one."""
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    saved = [(logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    # An earlier test in this process may have routed warnings inside its own warnings context, which
    # pytest undid when it ended: logging would still think it captures them and not hook them again.
    logging.captureWarnings(False)
    yield
    logging.captureWarnings(False)
    for logger, (handlers, propagate, level) in zip(loggers, saved, strict=True):
        for handler in logger.handlers:
            handler.close()
        logger.handlers, logger.propagate, logger.level = handlers, propagate, level


def test_library_records_and_warnings_go_to_the_log_file_and_one_file_is_open_at_a_time(tmp_path, capsys):
    first, second = tmp_path / "a" / "run.log", tmp_path / "b" / "run.log"
    route_library_logs(first)
    logging.getLogger("mlflow.pyfunc").info("Validating input example against model signature")
    logging.getLogger("matplotlib.category").info("Using categorical units to plot a list of strings")
    warnings.warn("Add type hints to the `predict` method", UserWarning, stacklevel=1)
    route_library_logs(second)
    logging.getLogger("optuna").info("A new study created in RDB")

    shown = capsys.readouterr()
    assert shown.out == "" and shown.err == ""
    written = first.read_text()
    assert "Validating input example" in written and "categorical units" in written
    assert "Add type hints" in written and "A new study" in second.read_text()
    handlers = {handler for name in LIBRARY_LOGGERS for handler in logging.getLogger(name).handlers}
    assert [handler.baseFilename for handler in handlers] == [str(second)]  # one file open, the last
