"""The server refused this user's credentials mid-sweep (401, 403: a rotated password, a revoked user).

Retrying cannot help and the server will not take the runs' endings either, so: the sweep stops at
once (`SweepRefused`, which Hydra's launchers let through as they do Ctrl-C), each job keeps what it
trained in its own folder (`curve.npz`), and leaves a note saying how its run ended. The next command
into the experiment, with working credentials, ends those runs KILLED with that reason and uploads
their curves (harness.sweep.stale); `resume=true` reruns them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.tracking import KILLED


class SweepRefused(KeyboardInterrupt):
    """Raised through the launcher so that no further job starts; `line` is what the user reads."""

    def __init__(self, line: str):
        super().__init__(line)
        self.line = line


def notes_dir() -> Path:
    """Where the notes live: `$XDG_STATE_HOME/harness/stopped-runs` (`~/.local/state/...`), mode 0700."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    directory = Path(state) / "harness" / "stopped-runs"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def leave_note(run_id: str, reason: str, curve: Path | None = None) -> None:
    """Run `run_id` is to end KILLED with `reason`, its curve (if any) taken from the file `curve`."""
    note = {"status": KILLED, "reason": reason, "curve": str(curve) if curve else None}
    path = notes_dir() / f"{run_id}.json"
    path.write_text(json.dumps(note))


def take_note(run_id: str) -> dict | None:
    """The note left for `run_id`, or None; the note is removed once read."""
    path = notes_dir() / f"{run_id}.json"
    try:
        note = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    path.unlink(missing_ok=True)
    return note
