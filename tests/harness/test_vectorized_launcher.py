"""`hydra/launcher=vectorized`: Hydra's own launcher test suites, the rendezvous of batched jobs, and
sweeps that give the same runs as the basic launcher does one job at a time."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
import pytest
from hydra import version as hydra_version
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite
from omegaconf import DictConfig, OmegaConf

from harness.tracking import Tags
from hydra_plugins.hydra_vectorized_launcher import batch_point, vectorizable
from hydra_plugins.hydra_vectorized_launcher._core import split
from hydra_plugins.hydra_vectorized_launcher.rendezvous import Coordinator
from hydra_plugins.hydra_vectorized_launcher.vectorized_launcher import VectorizedLauncher


@pytest.fixture(autouse=True)
def hydra_version_base_as_in_a_fresh_process(monkeypatch):
    """Hydra's suites expect its default version base (jobs change into their folders); an earlier
    test's `initialize_config_dir(version_base="1.3")` leaves "1.3" set in this process."""
    monkeypatch.setattr(hydra_version.VersionBase.instance(), "version_base", hydra_version._UNSPECIFIED_)


def test_the_launcher_is_discovered_by_hydra():
    assert VectorizedLauncher.__name__ in [x.__name__ for x in Plugins.instance().discover(Launcher)]


@pytest.mark.parametrize(("launcher_name", "overrides"), [("vectorized", [])])
class TestVectorizedLauncher(LauncherTestSuite):
    """Hydra's launcher suite, with task functions the launcher cannot batch (run one at a time)."""


def _double_all(items: list[int]) -> list[int]:
    return [2 * item for item in items]


@pytest.mark.parametrize(("launcher_name", "overrides"), [("vectorized", ["hydra.launcher.n_jobs=1"])])
class TestVectorizedLauncherWithBatchedTasks(LauncherTestSuite):
    """Hydra's launcher suite again, with a task function whose jobs meet at a batch point (in threads)."""

    def get_task_function(self):
        @vectorizable
        def task_func(_: DictConfig) -> Any:
            assert batch_point("same", 50, _double_all) == 100
            return 100

        return task_func


@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [
        (
            {},
            [
                "-m",
                "hydra/job_logging=hydra_debug",
                "hydra/job_logging=disabled",
                "hydra/launcher=vectorized",
            ],
        )
    ],
)
# each test runs a Hydra app in a subprocess: the slow tier's (33 tests, ~15 s)
@pytest.mark.slow
class TestVectorizedLauncherIntegration(IntegrationTestSuite):
    """Hydra's integration suite: job names, working directories, `to_absolute_path` in a real process."""


# The rendezvous, on its own


def _jobs(keys: list[str], log: list, batches: list) -> list:
    def run_batch(items):
        batches.append([item for item in items])
        return [f"result {item}" for item in items]

    def job(index: int, key: str):
        def call():
            log.append(("start", index))
            result = batch_point(key, index, run_batch)
            log.append(("end", index, result))
            return index

        return call

    return [job(index, key) for index, key in enumerate(keys)]


def test_jobs_meeting_at_a_batch_point_are_computed_once_per_key_and_each_gets_its_result():
    log, batches, turns = [], [], []
    coordinator = Coordinator(max_batch=64, on_turn=turns.append)

    returned = coordinator.run(_jobs(["a", "b", "a", "a"], log, batches))

    assert returned == [0, 1, 2, 3]
    assert batches == [[0, 2, 3], [1]]
    assert log[:4] == [("start", 0), ("start", 1), ("start", 2), ("start", 3)]  # all park before any batch
    assert log[4:] == [
        ("end", 0, "result 0"),
        ("end", 2, "result 2"),
        ("end", 3, "result 3"),
        ("end", 1, "result 1"),
    ]
    assert turns == [0, 2, 3, 1]  # each job's Hydra state is restored before it resumes


def test_a_group_larger_than_max_batch_is_computed_in_slices():
    batches = []
    Coordinator(max_batch=2).run(_jobs(["a"] * 5, [], batches))
    assert batches == [[0, 1], [2, 3], [4]]


def test_a_batch_point_outside_the_launcher_computes_its_item_alone():
    assert batch_point("key", 21, _double_all) == 42


def test_an_error_in_a_batch_is_raised_in_each_of_its_jobs_and_the_other_groups_go_on():
    def run_batch(items):
        if "bad" in items:
            raise ValueError("no")
        return items

    def job(item):
        def call():
            try:
                return batch_point(item == "bad" or item == "also bad", item, run_batch)
            except ValueError as error:
                return f"raised {error}"

        return call

    returned = Coordinator(64).run([job("bad"), job("good"), job("also bad")])
    assert returned == ["raised no", "good", "raised no"]


def test_ctrl_c_during_a_batch_reaches_every_waiting_job_and_then_the_launcher():
    ended = []

    def run_batch(items):
        if items == ["second"]:
            raise KeyboardInterrupt
        return items

    def job(item):
        def call():
            try:
                return batch_point(item, item, run_batch)
            except KeyboardInterrupt:
                ended.append(item)  # the job ends its own run KILLED, then lets Ctrl-C go on
                raise

        return call

    with pytest.raises(KeyboardInterrupt):
        Coordinator(64).run([job("first"), job("second"), job("third")])
    assert ended == ["second", "third"]  # "first" was computed before Ctrl-C and ended normally


def test_no_more_than_max_batch_jobs_wait_before_their_batch_is_computed():
    log, batches = [], []
    Coordinator(max_batch=2).run(_jobs(["a", "b", "a", "b", "a"], log, batches))
    assert batches == [[0], [1], [2], [3], [4]]  # every 2 started jobs, whatever their keys
    starts = [index for index, entry in enumerate(log) if entry[0] == "start"]
    assert [log[i][1] for i in starts] == [0, 1, 2, 3, 4]
    assert log.index(("end", 0, "result 0")) < log.index(("start", 2))  # job 2 starts after 0 and 1 end


def test_jobs_are_split_between_processes_in_order():
    assert split(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert split([0], 4) == [[0]]


# Real sweeps: the vectorized launcher against the basic one

GRID = ("optimizer=sgd", "lr=1e-3,100", "width=8,16", "seed=0,1", "steps=60", "report=false")


def _runs_by_name(store):
    return {run.info.run_name: run for run in store.children()}


@pytest.fixture(scope="module")
def basic_and_vectorized(run_harness, tmp_path_factory):
    """The same grid (half of it diverges) with the basic launcher and with the vectorized one."""
    basic = run_harness(tmp_path_factory.mktemp("basic"), "-m", *GRID)
    vectorized = run_harness(
        tmp_path_factory.mktemp("vectorized"),
        "-m",
        *GRID,
        "hydra/launcher=vectorized",
        "hydra.launcher.n_jobs=2",
    )
    return basic, vectorized


@pytest.mark.slow
def test_vectorized_runs_equal_one_at_a_time_runs(basic_and_vectorized, tmp_path):
    basic, vectorized = basic_and_vectorized
    expected, got = _runs_by_name(basic.store), _runs_by_name(vectorized.store)
    assert sorted(got) == sorted(expected) and len(got) == 8
    statuses = {run.info.status for run in got.values()}
    assert statuses == {"FINISHED", "FAILED"}  # the grid has both
    for name, mine in got.items():
        theirs = expected[name]
        assert mine.info.status == theirs.info.status, name
        assert mine.data.params == theirs.data.params
        for tag in (Tags.FAILURE_STEP, Tags.FAILURE_REASON, Tags.CONFIG_HASH, Tags.OVERRIDES, Tags.ROLE):
            assert mine.data.tags.get(tag) == theirs.data.tags.get(tag), (name, tag)
        assert mine.data.tags[Tags.PARENT_RUN_ID] == vectorized.store.parents()[0].info.run_id
        metrics = {key: value for key, value in mine.data.metrics.items() if key != "train_seconds"}
        assert metrics == {key: value for key, value in theirs.data.metrics.items() if key != "train_seconds"}
        history = [(m.step, m.value) for m in vectorized.store.loss_history(mine)]
        assert history == [(m.step, m.value) for m in basic.store.loss_history(theirs)]
        assert vectorized.store.artifacts(mine) == basic.store.artifacts(theirs)
        for artifact in {"curve.npz", "model.npz", "fit.npz"} & basic.store.artifacts(theirs):
            a = np.load(vectorized.store.download(mine, artifact, tmp_path / "v" / name))
            b = np.load(basic.store.download(theirs, artifact, tmp_path / "b" / name))
            assert sorted(a.files) == sorted(b.files)
            for array in a.files:
                np.testing.assert_array_equal(a[array], b[array], err_msg=f"{name} {artifact} {array}")


@pytest.mark.slow
def test_every_vectorized_job_has_its_hydra_job_folder_and_log(basic_and_vectorized):
    _, vectorized = basic_and_vectorized
    for number in range(8):
        folder = vectorized.cwd / "multirun" / str(number)
        assert (folder / ".hydra" / "config.yaml").is_file() and (
            folder / ".hydra" / "overrides.yaml"
        ).is_file()
        log = (folder / "run.log").read_text()
        assert log.count("] - start ") == 1 and log.count("] - end ") == 1
    assert "Vectorized launcher is launching 8 jobs in 2 process(es)" in vectorized.output
    (parent,) = vectorized.store.parents()
    assert parent.info.status == "FINISHED"


# What names the launcher itself in `hydra.yaml` (its config and choice, its command-line overrides,
# and the job id: joblib's and this launcher's `<name>_<n>` where the basic launcher writes `<n>`).
LAUNCHER_KEYS = ("hydra.launcher", "hydra.job.id")
LAUNCHER_OVERRIDES = ("hydra/launcher", "hydra.launcher")


def _hydra_files(invocation, number: int) -> dict[str, Any]:
    """A job's `.hydra/` files, with the sweep's folder and what names the launcher left out."""
    folder = invocation.cwd / "multirun" / str(number) / ".hydra"
    files = {
        name: (folder / name).read_text().replace(str(invocation.cwd), "<sweep folder>")
        for name in ("config.yaml", "overrides.yaml", "hydra.yaml")
    }
    hydra = OmegaConf.create(files["hydra.yaml"])
    for key in LAUNCHER_KEYS:
        parent, _, leaf = key.rpartition(".")
        del OmegaConf.select(hydra, parent)[leaf]
    del hydra.hydra.runtime.choices["hydra/launcher"]
    overrides = hydra.hydra.overrides
    overrides.hydra = [line for line in overrides.hydra if not line.startswith(LAUNCHER_OVERRIDES)]
    files["hydra.yaml"] = OmegaConf.to_yaml(hydra)
    return files


@pytest.mark.slow
def test_every_job_has_the_hydra_files_the_basic_launcher_writes(basic_and_vectorized):
    """config.yaml and overrides.yaml byte for byte; hydra.yaml but for what names the launcher."""
    basic, vectorized = basic_and_vectorized
    for number in range(8):
        assert _hydra_files(vectorized, number) == _hydra_files(basic, number), number


@pytest.mark.slow
def test_ctrl_c_ends_every_run_of_the_batch_killed(start_harness, stored, store_dir):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    process = start_harness(
        store_dir,
        "-m",
        "seed=0,1,2",
        "steps=1000000",
        "report=false",
        "hydra/launcher=vectorized",
        "hydra.launcher.n_jobs=1",
        uri=uri,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not any(store.loss_history(run) for run in store.children()):
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    runs = store.children()
    assert len(runs) == 3  # the three jobs were all started, as one batch
    for run in runs:
        assert run.info.status == "KILLED"
        assert run.data.tags[Tags.FAILURE_REASON] == "interrupted (Ctrl-C)"
        done = int(run.data.tags[Tags.FAILURE_STEP])
        assert [m.step for m in store.loss_history(run)] == store.logged_steps(done)
    (parent,) = store.parents()
    assert parent.info.status == "KILLED"


@pytest.mark.slow
def test_a_killed_worker_fails_only_its_own_runs_and_the_other_worker_finishes(
    start_harness, stored, store_dir
):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    store = stored(uri)
    process = start_harness(
        store_dir, "-m", "seed=0,1,2,3", "steps=150000", "report=false", "register=false",
        "hydra/launcher=vectorized", "hydra.launcher.n_jobs=2", uri=uri,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len([r for r in store.children() if store.loss_history(r)]) < 4:
            time.sleep(0.5)
        first = next(run for run in store.children() if run.info.run_name == "seed=0")
        victim = int(first.data.tags[Tags.PROCESS].split(":")[1])
        os.kill(victim, signal.SIGKILL)  # as the OOM killer does, to one worker
        output, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1, output[-3000:]
    runs = {run.info.run_name: run for run in store.children()}
    assert {name: runs[name].info.status for name in ("seed=2", "seed=3")} == {
        "seed=2": "FINISHED",
        "seed=3": "FINISHED",
    }
    for name in ("seed=2", "seed=3"):
        assert "curve.npz" in {a.path for a in store.client.list_artifacts(runs[name].info.run_id)}
    assert {runs[name].info.status for name in ("seed=0", "seed=1")} == {"FAILED"}
    assert "TerminatedWorkerError" not in output and output.count("Traceback") == 0, output[-3000:]
    assert (
        output.count("vectorized launcher: a worker process died (killed, or out of memory?): jobs 0, 1") == 1
    )
