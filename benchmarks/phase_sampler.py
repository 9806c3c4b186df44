"""Run `python -m harness.run ARGS` in this process and say where its wall time went, by phase.

    python benchmarks/phase_sampler.py OUT.json -- -m lr=1e-3,1e-2

A thread samples the main thread's stack every few milliseconds and charges the time since the last
sample to one phase: `imports` if the stack is importing a module, else the phase its frames name
(TIERS), else `other` (Hydra's runtime, logging, the interpreter). Sampling, not tracing: the command
runs at its own speed. Started by benchmarks/startup.py in a fresh process, with the harness of the
repo under test first on sys.path.
"""

from __future__ import annotations

import json
import runpy
import sys
import threading
import time
from pathlib import Path

INTERVAL = 0.002  # seconds between samples

# (phase, path fragment of a frame's file, its function names or None for any). The innermost frame
# of the first tier wins, else the innermost of the second: the store calls that the report or the
# model make are theirs, a figure drawn while a run's records are written is `figures`.
TIERS = [
    [
        ("figures", "harness/job/plots.py", None),
        ("model", "harness/sweep/winner", None),
        ("report", "harness/report/", None),
        ("training", "harness/training/", None),
        ("compose", "harness/checks/", None),
        ("compose", "hydra/_internal/config_loader_impl.py", None),
    ],
    [
        ("records", "harness/job/job.py", {"record", "on_progress", "end_stopped_run"}),
        ("records", "harness/tracking/gateway.py", {"start_run", "end", "log_artifacts", "log_metrics"}),
        ("records", "harness/tracking/gateway.py", {"update", "finish", "describe", "reuse"}),
        ("store", "harness/tracking/", None),
        ("store", "harness/sweep/stale.py", None),
    ],
]
IMPORTING = "<frozen importlib._bootstrap"


def phase_of(frame) -> str:
    """`imports` if the stack is importing a module, else its phase by TIERS, else `other`."""
    found: list[str | None] = [None] * len(TIERS)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(IMPORTING):
            return "imports"
        for tier, rules in enumerate(TIERS):
            if found[tier] is None:
                found[tier] = next(
                    (
                        name
                        for name, fragment, functions in rules
                        if fragment in code.co_filename and (functions is None or code.co_name in functions)
                    ),
                    None,
                )
        frame = frame.f_back
    return next((phase for phase in found if phase is not None), "other")


def sample(main_id: int, seconds: dict[str, float], stop: threading.Event) -> None:
    last = time.perf_counter()
    while not stop.wait(INTERVAL):
        frame = sys._current_frames().get(main_id)
        now = time.perf_counter()
        if frame is not None:
            phase = phase_of(frame)
            seconds[phase] = seconds.get(phase, 0.0) + now - last
        last = now


def main() -> None:
    out, _, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    import harness

    run_py = Path(harness.__file__).with_name("run.py")
    sys.argv = [str(run_py), *args]
    seconds: dict[str, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(threading.get_ident(), seconds, stop), daemon=True)
    started = time.perf_counter()
    sampler.start()
    code = 0
    try:
        runpy.run_module("harness.run", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        stop.set()
        sampler.join()
    seconds["sampled"] = time.perf_counter() - started
    Path(out).write_text(json.dumps({"exit": code, "seconds": seconds}))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
