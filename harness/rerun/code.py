"""The code a stored run ran with against the working tree's: what differs, and what refuses a rerun."""

from __future__ import annotations

from harness.provenance import provenance_tags
from harness.tracking import Tags

# What computes the numbers: a rerun with another of these is refused unless `rerun_code=current`.
DECISIVE = {Tags.CODE_VERSION: "code", "version.numpy": "numpy"}
# What only records them: named when it differs, never refused.
RECORDING = {"version.mlflow": "mlflow", "version.hydra-core": "hydra-core"}


def _shown(key: str, value: str) -> str:
    if key != Tags.CODE_VERSION or value in ("", "unknown"):
        return value or "unknown"
    commit, _, diff = value.partition("+")
    return f"{commit[:10]}+diff {diff}" if diff else f"{commit[:10]} (clean)"


def code_differences(stored_tags: dict[str, str], decisive_only: bool = False) -> list[str]:
    """`["code 1a2b3c4d5e (clean) -> 1a2b3c4d5e+diff 9f8e7d6c5b4a3210", "numpy 2.1.3 -> 2.2.0"]`: each
    provenance tag of the stored run that the working tree does not share, stored value first."""
    current = provenance_tags()
    keys = DECISIVE if decisive_only else DECISIVE | RECORDING
    return [
        f"{name} {_shown(key, stored_tags.get(key, ''))} -> {_shown(key, current.get(key, ''))}"
        for key, name in keys.items()
        if stored_tags.get(key, "") != current.get(key, "")
    ]
