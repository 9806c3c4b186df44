"""Close runs left RUNNING by a process that could not end them (`kill -9`, the OOM killer, a crash).

Every run is tagged with the process that owns it (`process`: host, pid and the process's start
time, so a reused pid is not mistaken for it). Each command, before its first job, ends FAILED the
RUNNING runs of its experiment whose process on this host is gone, keeping their curves, with the
step and the reason. Runs owned by other hosts are left alone: they may be running.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from harness.job.refused import take_note
from harness.process_identity import is_gone
from harness.tracking import FAILED, Tags

if TYPE_CHECKING:
    from harness.tracking import Tracker

log = logging.getLogger("harness")

GONE_REASON = (
    "its process ({}) ended without ending the run (kill -9, out of memory?); closed by a later command"
)


def close_stale_runs(tracker: Tracker, experiment_id: str) -> int:
    """End FAILED the experiment's RUNNING runs whose process is gone; how many."""
    stale = [
        run for run in tracker.running_runs(experiment_id) if is_gone(run.data.tags.get(Tags.PROCESS, ""))
    ]
    for run in stale:
        if (note := take_note(run.info.run_id)) is not None:  # its process said how it ended
            if note["curve"] and Path(note["curve"]).is_file():
                tracker.log_artifact(run.info.run_id, Path(note["curve"]))
            tracker.end_keeping_curve(run, note["status"], note["reason"])
            continue
        tracker.end_keeping_curve(run, FAILED, GONE_REASON.format(run.data.tags[Tags.PROCESS]))
    if stale:
        log.warning(
            "closed %d run(s) left RUNNING by a process that is gone: %s",
            len(stale), ", ".join(run.info.run_id for run in stale),
        )  # fmt: skip
    return len(stale)
