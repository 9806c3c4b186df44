"""No secret reaches a run: what looks like a password or a token is masked."""

from __future__ import annotations

import pytest

from harness.tracking.redact import MASK, has_credentials, scrub, scrub_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://alice:s3cret@mlflow.example:5000", f"http://{MASK}@mlflow.example:5000"),
        ("https://token@host/path?x=1", f"https://{MASK}@host/path?x=1"),
        ("https://host/api?token=abc123&page=2", f"https://host/api?token={MASK}&page=2"),
        ("MLFLOW_TRACKING_PASSWORD=hunter2 lr=0.1", f"MLFLOW_TRACKING_PASSWORD={MASK} lr=0.1"),
        ("api_key: xyz", f"api_key: {MASK}"),
        ("experiment='run password=hunter2'", f"experiment='run password={MASK}'"),  # the quote kept
        ('name="token: abc" lr=1', f'name="token: {MASK}" lr=1'),
    ],
)
def test_credentials_in_text_are_masked(text, expected):
    assert scrub_text(text) == expected
    assert has_credentials(text)


@pytest.mark.parametrize(
    "text",
    ["sqlite:////tmp/x/mlflow.db", "http://127.0.0.1:5000", "lr=0.001 width=64", "seed_adamw", "[0.9, 0.9]"],
)
def test_ordinary_values_are_left_alone(text):
    assert scrub_text(text) == text
    assert not has_credentials(text)


def test_values_under_secret_looking_keys_are_masked_whole_at_any_depth():
    data = {"lr": 0.1, "db_password": "x", "auth": {"api_key": "k", "url": "http://u:p@h"}, "tokens": [1]}
    assert scrub(data) == {
        "lr": 0.1,
        "db_password": MASK,
        "auth": {"api_key": MASK, "url": f"http://{MASK}@h"},
        "tokens": MASK,
    }
