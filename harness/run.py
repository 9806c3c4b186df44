"""`python -m harness.run [-m] key=value ...`: Hydra-configured runs and sweeps, every run in MLflow.

    python -m harness.run                                  # the seed post's experiment, one run
    python -m harness.run -m lr=1e-3,1e-2 width=32,64      # a sweep: a parent run, one child per job
    python -m harness.run -m sweeps=lr_width               # a named sweep from sweeps/
    python -m harness.run rerun=<run id or sweep id>       # train stored runs again, compare their curves

The whole command line is checked before Hydra starts (harness.checks.preflight): bad input is one line
on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import os
import sys

# One BLAS thread per job, set before numpy loads: the engine's matrices are tiny (64 x 64), and an
# idle OpenBLAS worker spins for ~0.1 s after each burst, taking a core from the job beside it.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from harness.checks.help_text import print_help_if_asked  # noqa: E402
from harness.checks.preflight import plan_command_line  # noqa: E402
from harness.checks.schema import CONF_DIR  # noqa: E402
from harness.checks.validation import ConfigError, NothingToDo  # noqa: E402
from harness.collector import as_command, imports_frozen  # noqa: E402
from harness.job.refused import SweepRefused  # noqa: E402
from harness.job.signals import Terminated, no_interruptions, raise_on_sigterm, stop_children  # noqa: E402
from harness.sweep.stale import close_stale_runs  # noqa: E402
from harness.sweep_context import current_sweep_id, start_sweep  # noqa: E402
from harness.tracking import (  # noqa: E402
    FAILED,
    INTERRUPTED,
    KILLED,
    TERMINATED,
    StoreAccessError,
    bound_http_requests,
    check_access,
    resolve_tracking_uri,
)
from hydra_plugins.hydra_vectorized_launcher import on_worker_start, vectorizable  # noqa: E402

EXIT_BAD_INPUT = 2
EXIT_REFUSED = 1  # the server refused the credentials mid-sweep
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM ended


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
@vectorizable  # under hydra/launcher=vectorized, jobs that can share a batch train together
@on_worker_start(raise_on_sigterm)  # ... in worker processes that stop with their runs, and their launcher
def hydra_entry(cfg: DictConfig) -> str:
    if "harness.job.job" not in sys.modules:  # the first job loads matplotlib and the engine: frozen once
        with imports_frozen():  # (harness.collector); freezing at every job would keep its garbage
            import harness.job.job  # noqa: F401
    from harness.job.job import run_job

    return run_job(cfg)  # the run's id: the Optuna sweeper reads the trial's outcome from that run


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    start_sweep()
    try:
        rerun = None
        if any("rerun=" in argument for argument in argv):  # the rerun reads the store: MLflow loads
            from harness.rerun.command_line import expand_rerun

            with imports_frozen():  # MLflow loads here first (harness.collector)
                rerun = expand_rerun(argv)  # `rerun=<id>`: the stored runs' jobs, checked against the store
        if rerun is not None:
            argv = rerun.argv
        plan = plan_command_line(argv)
        if plan.jobs:  # jobs will run: the store must answer (within store_timeout s) before any does
            from harness.tracking import open_store  # MLflow: not for --help nor a refused command

            bound_http_requests()
            job = plan.first_job
            tracking_uri = resolve_tracking_uri()
            experiment_id = check_access(tracking_uri, job["store_timeout"], job["experiment"])
            close_stale_runs(open_store(tracking_uri), experiment_id)
    except NothingToDo as done:  # said, and no run made
        print(done)
        raise SystemExit(0) from None
    except (ConfigError, StoreAccessError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None
    if not plan.jobs and print_help_if_asked(argv):
        return
    from harness.sweep.callbacks import abandon_active_sweep, end_active_sweep  # a sweep's bookkeeping

    sys.argv = [sys.argv[0], *argv]
    raise_on_sigterm(launcher=True)
    try:
        hydra_entry()
        if rerun is not None:
            from harness.rerun.summary import rerun_lines

            print("\n".join(rerun_lines(rerun, current_sweep_id())))
    except SweepRefused as refused:  # the server refuses this user: it would refuse every ending too
        with no_interruptions():
            stop_children(False)
            abandon_active_sweep(refused.line)
        print(f"error: {refused.line}", file=sys.stderr)
        raise SystemExit(EXIT_REFUSED) from None
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        with no_interruptions():
            stop_children(terminated)  # joblib's or submitit's workers: none is left behind
            end_active_sweep(KILLED, TERMINATED if terminated else INTERRUPTED)
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"{what}: the current run and its sweep are ended KILLED", file=sys.stderr)
        raise SystemExit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            end_active_sweep(FAILED)
        raise


if __name__ == "__main__":
    as_command()
    main()
