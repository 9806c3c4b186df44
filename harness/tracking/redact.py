"""Keep credentials out of runs: what may carry a password or token is masked before MLflow sees it."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_SECRET_WORD = r"pass(?:word|wd)?|secret|token|api[_-]?key|credential|authorization"
_SECRET_NAME = re.compile(_SECRET_WORD, re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_SECRET_ASSIGNMENT = re.compile(
    rf"(?P<name>[\w.-]*(?:{_SECRET_WORD})[\w.-]*)(?P<sep>\s*[=:]\s*)[^\s&,;\]'\"]+", re.IGNORECASE
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def scrub_text(text: str) -> str:
    """Mask `user:pass@` in URLs and the value of any `password=...`/`token: ...` inside the text."""
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_ASSIGNMENT.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)


def scrub(value: Any, name: str = "") -> Any:
    """`value` with every secret masked; a value whose key looks secret is masked whole.

    Dicts and lists are scrubbed item by item, with their keys as names.
    """
    if name and is_secret_name(name.rpartition(".")[2]):
        return MASK
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def has_credentials(text: str) -> bool:
    return scrub_text(text) != text
