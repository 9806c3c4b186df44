"""The sweeper against Hydra's own plugin test suites (`hydra.test_utils.launcher_common_tests`) and
Hydra's sample app: discovered as a plugin, batches of `n_jobs`, job directories and names as Hydra's
own sweepers make them."""

from __future__ import annotations

import optuna
from hydra import version as hydra_version
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import BatchedSweeperTestSuite, IntegrationTestSuite
from pytest import fixture, mark

from hydra_plugins.harness_optuna_sweeper.sweeper import OptunaSweeper


@fixture(autouse=True)
def study_beside_a_temporary_store(tmp_path, monkeypatch):
    """The default study storage is `optuna.db` beside the MLflow store: keep both in tmp_path. And
    Hydra's version base as in a fresh process: the suites expect its default (an earlier test's
    `initialize_config_dir(version_base="1.3")` leaves it set in this one)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setattr(hydra_version.VersionBase.instance(), "version_base", hydra_version._UNSPECIFIED_)


# The suites' apps return None (no objective): their trials fail, which ends no search. A suite runs the
# same command twice and expects two runs: a study of its own each time (else the second continues the
# first, already at n_trials, and runs nothing).
ONE_TRIAL = [
    "hydra/sweeper=optuna", "hydra.sweeper.n_trials=1", "hydra.sweeper.n_jobs=1",
    "hydra.sweeper.study_name=suite-${now:%H%M%S%f}",
]  # fmt: skip


def test_the_sweeper_is_discovered_as_a_hydra_plugin():
    assert OptunaSweeper.__name__ in [plugin.__name__ for plugin in Plugins.instance().discover(Sweeper)]


def test_a_search_asks_n_trials_in_batches_of_n_jobs(hydra_sweep_runner, tmp_path):
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        config_path="configs",
        config_name="compose.yaml",
        task_function=lambda cfg: cfg.foo * cfg.bar,
        overrides=[
            "hydra/sweeper=optuna",
            "hydra/launcher=basic",
            "hydra.sweeper.n_trials=5",
            "hydra.sweeper.n_jobs=2",
            f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db",
            "foo=int(interval(1,4))",
            "bar=choice(1,10)",
        ],
        temp_dir=tmp_path / "sweep",
    )
    with sweep:
        assert [len(batch) for batch in sweep.returns] == [2, 2, 1]
        jobs = [job for batch in sweep.returns for job in batch]
        assert all(1 <= job.cfg.foo <= 4 and job.cfg.bar in (1, 10) for job in jobs)
        values = [job.cfg.foo * job.cfg.bar for job in jobs]

    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path}/optuna.db")
    assert sorted(t.value for t in study.trials) == sorted(values)
    assert study.best_value == min(values)


@mark.parametrize(
    ("launcher_name", "overrides"),
    [("basic", ["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.n_jobs=2"])],
)
class TestOptunaSweeperWithBatching(BatchedSweeperTestSuite):
    """A grid (`hydra/sweeper/sampler=grid`) runs the basic sweeper's jobs, in its order, 2 at a time."""


@mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [({}, ["-m", *ONE_TRIAL, "hydra/launcher=basic"])],
)
# each test runs a Hydra app in a subprocess: the slow tier's (33 tests, ~32 s)
@mark.slow
class TestOptunaSweeperIntegration(IntegrationTestSuite):
    pass
