"""`rerun=<id>[,<id>...]` on the command line, expanded before Hydra starts into the jobs it means.

A run id is one job; a sweep id (`20261126-051003-3f2a`) or a sweep's parent run id is one job per job
run of that sweep, in the order they started. They become one swept key, `-m rerun=<run id>,...`:
Hydra's sweeper, the configured launcher (`hydra/launcher=vectorized` batches them) and the sweep
callback (one parent run) treat the rerun as any sweep. Every check reads the store and writes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mlflow.entities import Run

from harness.checks import sweep_plan
from harness.checks.schema import BOOKKEEPING_KEYS
from harness.checks.validation import ConfigError
from harness.rerun.code import code_differences
from harness.rerun.stored import RERUNNABLE, check_rerunnable
from harness.tracking import Tags, Tracker, bound_http_requests, open_store, resolve_tracking_uri, sqlite_path
from harness.upstream import hydra_args_parser

RUN_ID = re.compile(r"[0-9a-f]{32}")
SWEEP_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")
# Taken from the stored run unless the command line sets them: where and how the rerun is recorded.
CARRIED_KEYS = ("experiment", "log_every_n_steps", "report", "register", "model_name")
# Besides rerun and rerun_code, the command line may only say where and how to run and record.
ALLOWED_KEYS = set(BOOKKEEPING_KEYS) - {"resume"}
FORM = "rerun=<run id> or rerun=<sweep id> (a sweep's parent run id also names its sweep)"


@dataclass(frozen=True)
class RerunCommand:
    argv: list[str]  # what Hydra is given
    run_ids: list[str]  # the stored runs trained again, in launch order
    skipped: list[str]  # a sweep's job runs that cannot come back (KILLED, RUNNING): said, not rerun


def _values(argv: list[str]) -> tuple[bool, list[str], list[str]] | None:
    """(-m given, the rerun values, the other overrides), or None without `rerun=`."""
    args = hydra_args_parser().parse_args(argv)
    keyed = [(sweep_plan.override_key(o), o) for o in sweep_plan.parse(args.overrides)]
    reruns = [override for key, override in keyed if key == "rerun"]
    if not reruns:
        return None
    flags = [
        argument for argument in argv if argument.startswith("-") and argument not in ("-m", "--multirun")
    ]
    if flags:
        raise ConfigError(f"{flags[0]} cannot be used with rerun=: it takes only -m and overrides")
    for key, override in keyed:
        if key not in ("rerun", "rerun_code") and sweep_plan.is_task_key(key) and key not in ALLOWED_KEYS:
            raise ConfigError(
                f"{override.input_line} cannot be used with rerun=: a rerun trains the stored settings; "
                f"only hydra/..., hydra.* and {', '.join(sorted(ALLOWED_KEYS - {'rerun', 'rerun_code'}))} "
                "may be set beside it (to change a setting, start from the command in the run's description)"
            )
    raw = reruns[-1].input_line.partition("=")[2]
    values = [value.strip().strip("'\"") for value in raw.split(",") if value.strip()]
    others = [o.input_line for key, o in keyed if key != "rerun"]
    return bool(args.multirun), values, others


def _jobs_of(tracker: Tracker, value: str) -> list[Run]:
    """The job runs `value` names: the run itself, or every job run of the sweep it names."""
    if SWEEP_ID.fullmatch(value):
        sweep_id = value
    elif RUN_ID.fullmatch(value):
        run = tracker.find_run(value)
        if run is None:
            raise ConfigError(f"rerun={value} is not allowed: no run {value} in the store")
        if run.data.tags.get(Tags.ROLE) != Tags.ROLE_SWEEP:
            return [run]
        sweep_id = run.data.tags.get(Tags.SWEEP_ID, "")
    else:
        raise ConfigError(f"rerun={value} is not allowed: it must be {FORM}")
    jobs = tracker.runs_in_any_experiment(
        f"tags.{Tags.SWEEP_ID} = '{sweep_id}' and tags.{Tags.ROLE} = '{Tags.ROLE_JOB}'"
    )
    if not jobs:
        raise ConfigError(f"rerun={value} is not allowed: no sweep {sweep_id} with job runs in the store")
    return jobs


def _refuse_other_code(runs: list[Run]) -> None:
    for run in runs:
        if differences := code_differences(run.data.tags, decisive_only=True):
            others = sum(1 for other in runs if code_differences(other.data.tags, decisive_only=True))
            which = f"run {run.info.run_id}" + (f" (and {others - 1} more)" if others > 1 else "")
            raise ConfigError(
                f"rerun refused: {which} ran other code than the working tree ({', '.join(differences)}); "
                "add rerun_code=current to train it with the current code and see what changes"
            )


def _value(text: str) -> str:
    """A param's text as an override value Hydra reads back the same (quoted unless plain)."""
    if text in ("True", "False"):
        return text.lower()
    if re.fullmatch(r"[\w.\-]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def expand_rerun(argv: list[str]) -> RerunCommand | None:
    """The command line Hydra runs for `rerun=...` in `argv`, or None without it; ConfigError (one
    line) for an unknown id, a run that cannot come back, other settings beside it, or other code."""
    found = _values(argv)
    if found is None:
        return None
    multirun, values, others = found
    if not values:
        raise ConfigError(f"rerun= is not allowed: it must be {FORM}")
    bound_http_requests()  # a server that does not answer: one line, not minutes of retries
    tracking_uri = resolve_tracking_uri()
    if (database := sqlite_path(tracking_uri)) is not None and not database.exists():
        raise ConfigError(f"rerun={values[0]} is not allowed: there is no store at {database}")
    tracker = open_store(tracking_uri)
    runs, skipped = {}, []
    for value in values:
        jobs = _jobs_of(tracker, value)
        for run in jobs:
            if len(jobs) > 1 and run.info.status not in RERUNNABLE:
                skipped.append(f"{run.info.run_id} ({run.info.status})")
                continue
            check_rerunnable(tracker, run)
            runs.setdefault(run.info.run_id, run)
    if not runs:
        raise ConfigError(
            f"rerun={','.join(values)} is not allowed: none of its runs ended FINISHED or FAILED"
        )
    given = {sweep_plan.override_key(o): o.value() for o in sweep_plan.parse(others)}
    if given.get("rerun_code") != "current":
        _refuse_other_code(list(runs.values()))
    first = next(iter(runs.values())).data.params
    carried = [f"{key}={_value(first[key])}" for key in CARRIED_KEYS if key not in given and key in first]
    ids = list(runs)
    rerun = f"rerun={','.join(ids)}"
    argv = ["-m", rerun] if multirun or len(ids) > 1 else [rerun]
    return RerunCommand([*argv, *carried, *others], ids, skipped)


def stored_swept_keys(tracker: Tracker, arguments: list[str]) -> list[str]:
    """The keys the first rerun job's sweep varied (its `swept_keys` tag), for a sweep of `rerun=` values."""
    axes = sweep_plan.sweep_axes(arguments)
    first = axes["rerun"][0].partition("=")[2]
    run = tracker.find_run(first)
    return json.loads(run.data.tags.get(Tags.SWEPT_KEYS, "[]")) if run is not None else []
