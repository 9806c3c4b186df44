"""The rules of asking the store again: a store that fails is asked again until the patience runs out,
with one warning per try; a refused password is never asked again; a server that is not there is one
line saying how long it was waited for."""

from __future__ import annotations

import logging

import pytest

from harness.job import job
from harness.services.process import free_port
from harness.tracking import CredentialsRefused, StoreAccessError, check_access

SERVER = "http://127.0.0.1:9"


class FailingStore:
    """An action that raises `error` for its first `failures` calls, then answers."""

    def __init__(self, error: Exception, failures: int):
        self.error, self.failures, self.calls = error, failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "answered"


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(job, "RETRY_SECONDS", 0.01)


def test_a_store_that_comes_back_within_the_patience_loses_nothing(quick_retries, caplog):
    store = FailingStore(ConnectionError("connection refused"), failures=2)
    with caplog.at_level(logging.WARNING, logger=job.log.name):
        assert job.with_patience(store, patience=60, tracking_uri=SERVER) == "answered"
    assert store.calls == 3
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert all(line.startswith(f"cannot reach the tracking server {SERVER}") for line in warnings)
    assert all("; trying again for up to " in line for line in warnings)


def test_a_store_that_stays_away_past_the_patience_is_one_line(quick_retries):
    store = FailingStore(ConnectionError("connection refused"), failures=10**9)
    with pytest.raises(StoreAccessError) as failed:
        job.with_patience(store, patience=0.1, tracking_uri=SERVER)
    assert store.calls >= 2 and not isinstance(failed.value, CredentialsRefused)
    assert str(failed.value).startswith(f"cannot reach the tracking server {SERVER}")


def test_a_refused_password_is_not_asked_again(quick_retries):
    store = FailingStore(RuntimeError("API request failed with error code 401 != 200"), failures=10**9)
    with pytest.raises(CredentialsRefused) as refused:
        job.with_patience(store, patience=60, tracking_uri=SERVER)
    assert store.calls == 1
    assert str(refused.value).startswith("not authenticated")


def test_ctrl_c_while_the_store_is_asked_is_not_retried(quick_retries):
    store = FailingStore(KeyboardInterrupt(), failures=10**9)
    with pytest.raises(KeyboardInterrupt):
        job.with_patience(store, patience=60, tracking_uri=SERVER)
    assert store.calls == 1


def test_a_server_that_is_not_there_is_waited_for_then_one_line():
    with pytest.raises(StoreAccessError) as failed:
        check_access(f"http://127.0.0.1:{free_port()}", timeout=1)
    line = str(failed.value)
    assert line.startswith("cannot reach the tracking server http://127.0.0.1:")
    assert line.endswith("(waited 1 s: store_timeout=SECONDS)")


def test_a_damaged_store_is_one_line_at_once(tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreAccessError) as failed:
        check_access(f"sqlite:///{tmp_path}/mlflow.db", timeout=60)
    assert str(failed.value).startswith(f"the store {tmp_path}/mlflow.db is damaged")
