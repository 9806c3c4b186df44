"""Where the code that ran came from."""

from __future__ import annotations

import functools
import subprocess

from harness.runner.config import REPO_ROOT


@functools.cache
def git_commit() -> str:
    """`git rev-parse HEAD` of the harness's repository, or `unknown` (no git, no commit yet)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"
