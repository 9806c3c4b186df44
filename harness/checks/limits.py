"""Limits a config must fit before anything runs: the memory a run would need, the lengths MLflow
stores, and a folder Hydra can write. Each refusal is one line naming the key (a ConfigError)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import psutil

from harness.checks.validation import ConfigError, refusal, typed_value

BYTES = 8  # float64
SIZE_KEYS = ("width", "depth", "batch_size", "steps")
MAX_EXPERIMENT_NAME = 256  # the experiments.name column of MLflow's database (MLflow itself says 500)


def memory_needed(task: dict[str, Any]) -> dict[str, int]:
    """Bytes a run needs, by the key that drives each part: the parameters and their gradients and
    optimizer moments (`width`, `depth`), one step's activations and their gradients (`batch_size`),
    the loss curve (`steps`). Inputs are drawn in chunks of 8 MB (harness.training.loop)."""
    width, depth, batch = task["width"], task["depth"], task["batch_size"]
    parameters = 2 * width + (width * width + width) * (depth - 1) + width + 1
    return {
        "width": BYTES * 6 * parameters,
        "batch_size": BYTES * 10 * batch * (width + 1) * (depth + 1),
        "steps": BYTES * task["steps"],
    }


def check_memory(task: dict[str, Any], overrides: list[str]) -> None:
    needed = memory_needed(task)
    total = sum(needed.values())
    available = psutil.virtual_memory().available
    if total <= available:
        return
    key = max(needed, key=needed.get)
    raise ConfigError(refusal(
        key, typed_value(key, overrides, task[key]),
        f"a run would need ~{_size(total)} of memory and this machine has {_size(available)} available",
    ))  # fmt: skip


def check_lengths(task: dict[str, Any], overrides: list[str]) -> None:
    name = str(task["experiment"])
    if len(name) > MAX_EXPERIMENT_NAME:
        raise ConfigError(refusal(
            "experiment", f"{name[:20]}...",
            f"experiment must be at most {MAX_EXPERIMENT_NAME} characters (it has {len(name)})",
        ))  # fmt: skip


def check_folder(key: str, folder: str) -> None:
    """Refuse a folder that cannot be created and written (under /proc, read-only, not a folder)."""
    path = Path(folder).absolute()
    existing = next(parent for parent in (path, *path.parents) if parent.exists())
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".harness-check-"))
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(refusal(key, folder, f"cannot write a folder there ({reason})")) from None


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PB"
