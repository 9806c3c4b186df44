"""What a rerun command says at its end: one line for a run, `k/N identical` for a sweep, read back from
the runs its jobs made (each holds its comparison as tags)."""

from __future__ import annotations

from harness.rerun.command_line import RerunCommand
from harness.tracking import Tags, open_store, resolve_tracking_uri

SHOWN = 10  # differing jobs listed under `k/N identical`


def rerun_lines(command: RerunCommand, sweep_id: str) -> list[str]:
    tracker = open_store(resolve_tracking_uri())
    jobs = tracker.runs_in_any_experiment(
        f"tags.{Tags.SWEEP_ID} = '{sweep_id}' and tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'"
    )
    new_run = {run.data.tags[Tags.RERUN_OF]: run for run in jobs if Tags.RERUN_OF in run.data.tags}

    def line(original: str) -> str:
        run = new_run.get(original)
        if run is None:
            return f"run {original}: no rerun stored (its job did not start)"
        result = run.data.tags.get(Tags.RERUN_RESULT)
        if result is None:
            return (
                f"run {original}: rerun {run.info.run_id} ended {run.info.status} before it could be compared"
            )
        return f"run {original}, rerun {run.info.run_id}: {result}"

    if len(command.run_ids) == 1:
        return [line(command.run_ids[0])]
    identical = [
        i
        for i in command.run_ids
        if new_run.get(i) and new_run[i].data.tags.get(Tags.RERUN_IDENTICAL) == "true"
    ]
    differing = [i for i in command.run_ids if i not in identical]
    lines = [f"{len(identical)}/{len(command.run_ids)} identical (rerun sweep {sweep_id})"]
    lines += [f"  {line(original)}" for original in differing[:SHOWN]]
    if len(differing) > SHOWN:
        lines.append(f"  ... and {len(differing) - SHOWN} more (tag {Tags.RERUN_IDENTICAL}=false)")
    if command.skipped:
        lines.append(f"not rerun (stopped from outside or not ended): {', '.join(command.skipped)}")
    return lines
