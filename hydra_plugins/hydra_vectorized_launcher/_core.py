"""How the vectorized launcher runs a sweep: the jobs split in order between `n_jobs` processes
(joblib's loky, as hydra-joblib-launcher), each process running its share through a `Coordinator`
so that the jobs meeting at `batch_point` are computed together. Every job is still one Hydra job:
its own config (what `load_sweep_config` composes: `composer`, in the worker), job folder, `.hydra/`
files, log file and callbacks, through Hydra's own `run_job`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from joblib import effective_n_jobs
from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky.process_executor import BrokenProcessPool
from omegaconf import DictConfig, open_dict

from hydra_plugins.hydra_vectorized_launcher.composer import JobComposer
from hydra_plugins.hydra_vectorized_launcher.rendezvous import Coordinator, is_vectorizable, run_worker_setup

log = logging.getLogger(__name__)


def job_config(composer: JobComposer, idx: int, overrides: Sequence[str]) -> DictConfig:
    sweep_config = composer.compose(overrides)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return sweep_config


def run_share(
    jobs: list[tuple[int, Sequence[str]]],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
    max_batch: int,
) -> list[JobReturn]:
    """One process's jobs (number, overrides), in order: batched when the task function is
    `@vectorizable`, else one by one. Each job's config is composed here, when the job starts."""
    setup_globals()
    Singleton.set_state(singleton_state)
    run_worker_setup(task_function)
    composer = JobComposer(hydra_context.config_loader, config)

    def execute(sweep_config: DictConfig) -> JobReturn:
        return run_job(
            hydra_context=hydra_context,
            config=sweep_config,
            task_function=task_function,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    if not is_vectorizable(task_function):
        return [execute(job_config(composer, *job)) for job in jobs]

    configs: dict[int, DictConfig] = {}

    def job(index: int, idx: int, overrides: Sequence[str]):
        def call() -> JobReturn:
            configs[index] = job_config(composer, idx, overrides)
            return execute(configs[index])

        return call

    def on_turn(index: int) -> None:
        """A parked job resumes: Hydra's config and the log file are its own again."""
        HydraConfig.instance().set_config(configs[index])
        configure_log(configs[index].hydra.job_logging, configs[index].hydra.verbose)

    def on_end(index: int) -> None:  # an ended job's config is not needed any more
        configs.pop(index, None)

    coordinator = Coordinator(max_batch, on_turn, on_end)
    return coordinator.run([job(index, *job_spec) for index, job_spec in enumerate(jobs)])


def split(jobs: list, parts: int) -> list[list]:
    """`jobs` in `parts` contiguous shares of sizes differing by one at most, in order."""
    size, extra = divmod(len(jobs), parts)
    shares, start = [], 0
    for part in range(parts):
        end = start + size + (part < extra)
        shares.append(jobs[start:end])
        start = end
    return [share for share in shares if share]


def launch(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> Sequence[JobReturn]:
    setup_globals()
    assert launcher.config is not None and launcher.task_function is not None
    assert launcher.hydra_context is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)

    jobs = [(initial_job_idx + index, list(overrides)) for index, overrides in enumerate(job_overrides)]
    workers = max(1, min(effective_n_jobs(launcher.n_jobs), len(jobs)))
    batched = is_vectorizable(launcher.task_function)
    log.info(
        "Vectorized launcher is launching %d jobs in %d process(es), %s",
        len(jobs),
        workers,
        f"up to {launcher.max_batch} per batch"
        if batched
        else "one at a time (the task is not vectorizable)",
    )
    log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
    for idx, overrides in jobs:
        log.info("\t#{} : {}".format(idx, " ".join(filter_overrides(overrides))))

    arguments = (
        launcher.hydra_context,
        launcher.config,
        launcher.task_function,
        Singleton.get_state(),
        launcher.max_batch,
    )
    if workers == 1:
        return run_share(jobs, *arguments)
    return run_shares(split(jobs, workers), arguments)


class WorkerDied(SystemExit):
    """A worker process of the launcher died (`kill -9`, out of memory): its share of the jobs failed.
    A SystemExit (code: the message, exit status 1) so that the sweep ends with this one line, not
    with the traceback Hydra prints for a job's exception."""


def run_shares(shares: list[list], arguments: tuple) -> list[JobReturn]:
    """Each share in a process of its own (one loky executor each, so that a worker that dies breaks
    only its own executor, not the others' as one shared pool would): a dead worker's jobs are FAILED
    JobReturns with one line of reason, the other shares finish."""
    executors = [ProcessPoolExecutor(max_workers=1) for _ in shares]
    try:
        futures = [
            executor.submit(run_share, share, *arguments)
            for executor, share in zip(executors, shares, strict=True)
        ]
        returns: list[JobReturn] = []
        for share, future in zip(shares, futures, strict=True):
            try:
                returns += future.result()
            except BrokenProcessPool:
                died = WorkerDied(
                    "vectorized launcher: a worker process died (killed, or out of memory?): jobs "
                    f"{', '.join(str(idx) for idx, _ in share)} did not finish; the others did"
                )
                returns += [failed_return(overrides, died) for _, overrides in share]
    except BaseException:  # Ctrl-C, SIGTERM: the runner stops the workers (they end their runs)
        for executor in executors:
            executor.shutdown(wait=False, kill_workers=False)
        raise
    for executor in executors:
        executor.shutdown(wait=True)
    return returns


def failed_return(overrides: Sequence[str], error: BaseException) -> JobReturn:
    job_return = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
    job_return.return_value = error
    return job_return
