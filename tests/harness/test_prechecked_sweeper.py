"""`hydra/sweeper=prechecked` (the default) is Hydra's basic sweeper without the second composition of
every job: Hydra's own launcher suites pass through it, and its batches are the basic sweeper's."""

from __future__ import annotations

import pytest
from hydra import version as hydra_version
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import IntegrationTestSuite, LauncherTestSuite

from harness.checks.preflight import plan_command_line
from hydra_plugins.harness_basic_sweeper.sweeper import PrecheckedSweeper


@pytest.fixture(autouse=True)
def hydra_version_base_as_in_a_fresh_process(monkeypatch):
    """Hydra's suites expect its default version base (see test_vectorized_launcher.py)."""
    monkeypatch.setattr(hydra_version.VersionBase.instance(), "version_base", hydra_version._UNSPECIFIED_)


def test_the_sweeper_is_discovered_by_hydra_and_is_the_projects_default():
    assert PrecheckedSweeper.__name__ in [x.__name__ for x in Plugins.instance().discover(Sweeper)]
    first_job = plan_command_line(["-m", "lr=1e-3,1e-2"]).first_job
    assert first_job["lr"] == 1e-3  # the preflight, which stands in for the sweeper's check, ran


@pytest.mark.parametrize(("launcher_name", "overrides"), [("basic", ["hydra/sweeper=prechecked"])])
class TestPrecheckedSweeperWithHydrasLauncherSuite(LauncherTestSuite):
    """Hydra's launcher suite (job order, numbering, folders, configs) through this sweeper."""


@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [({}, ["-m", "hydra/sweeper=prechecked", "hydra/job_logging=disabled"])],
)
class TestPrecheckedSweeperIntegration(IntegrationTestSuite):
    """Hydra's integration suite: working directories, task names, custom sweep dirs, in real processes."""


@pytest.mark.parametrize("max_batch_size", [None, 1, 2, 5])
def test_its_batches_are_the_basic_sweepers(max_batch_size):
    overrides = OverridesParser.create().parse_overrides(["a=1,2,3", "b=x,y", "c=0"])
    assert PrecheckedSweeper.split_arguments(overrides, max_batch_size) == BasicSweeper.split_arguments(
        overrides, max_batch_size
    )
    assert PrecheckedSweeper.sweep is BasicSweeper.sweep  # the same loop: order, batches, job numbers
