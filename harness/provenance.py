"""Where the code that ran came from: the git commit, whether the tree had uncommitted changes (and a
hash of them), and the versions of the libraries that compute or record a run.

`code_version()` is what `resume=true` compares besides the config: a run made from a different
commit or a different uncommitted diff is not the same computation.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path

from harness.checks.schema import REPO_ROOT
from harness.process_identity import process_tag
from harness.sweep_context import SweepContext
from harness.tracking import Tags

PACKAGES = ("numpy", "mlflow", "hydra-core")
COMMAND = "python -m harness.run"  # what a run's or a sweep's note tells to type


def rerun_command(run_or_sweep_id: str) -> str:
    """The command that trains a stored run (or every job of a sweep) again and compares its curve."""
    return f"{COMMAND} rerun={run_or_sweep_id}"


def _git(*arguments: str, root: Path = REPO_ROOT) -> str | None:
    try:
        done = subprocess.run(["git", *arguments], cwd=root, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode(errors="replace") if done.returncode == 0 else None


@functools.cache
def git_commit() -> str:
    """`git rev-parse HEAD` of the harness's repository, or `unknown` (no git, no commit yet)."""
    return (_git("rev-parse", "HEAD") or "").strip() or "unknown"


@functools.cache
def diff_hash(root: Path = REPO_ROOT) -> str:
    """sha256 (16 hex) of the uncommitted changes (tracked diff and untracked files); "" if clean."""
    diff = _git("diff", "HEAD", "--binary", root=root)
    untracked = (_git("ls-files", "--others", "--exclude-standard", "-z", root=root) or "").split("\0")
    if diff is None or (not diff and not any(untracked)):
        return ""
    digest = hashlib.sha256(diff.encode())
    for name in sorted(filter(None, untracked)):
        digest.update(name.encode())
        try:
            digest.update((root / name).read_bytes())
        except OSError:
            continue
    return digest.hexdigest()[:16]


def code_version() -> str:
    """`<commit>` for a clean tree, `<commit>+<diff hash>` for a dirty one."""
    return f"{git_commit()}+{diff_hash()}" if diff_hash() else git_commit()


@functools.cache
def provenance_tags() -> dict[str, str]:
    """The tags every run carries about its code: commit, dirty flag, diff hash, library versions."""
    tags = {
        "git_dirty": str(bool(diff_hash())).lower(),
        "git_diff_hash": diff_hash(),
        "code_version": code_version(),
    }
    for package in PACKAGES:
        try:
            tags[f"version.{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            tags[f"version.{package}"] = "unknown"
    return tags


def run_tags(context: SweepContext, role: str, overrides: list[str]) -> dict[str, str]:
    """The tags of every run of a sweep, its parent's and its jobs' alike."""
    return {
        Tags.SWEEP_ID: context.sweep_id,
        Tags.ROLE: role,
        Tags.SWEPT_KEYS: json.dumps(context.swept_keys),
        Tags.OVERRIDES: " ".join(overrides),
        Tags.GIT_COMMIT: git_commit(),
        Tags.PROCESS: process_tag(),
        **provenance_tags(),
    }
