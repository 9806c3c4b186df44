"""Settings every test shares (no telemetry, no display, never a user's tracking server) and the tiers.

- `pytest`: everything that needs only `pip install -e '.[dev]'`, as any user.
- `pytest -m slow`: the longer end-to-end runs in subprocesses (still pip only).
- `pytest -m system`: real services from Debian's packages (PostgreSQL, MariaDB, munge, SLURM,
  Chromium) started as their own accounts, so root. A test marked `system("postgresql", ...)` names its
  packages: outside CI a missing one skips it with the command that installs it; under CI
  (`CI=true`) it fails, so CI never passes by skipping.
"""

from __future__ import annotations

import gc
import glob
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["MPLBACKEND"] = "Agg"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_RUN_ID", None)

# A program each Debian package installs, to tell whether it is there.
DEBIAN_PROGRAMS = {
    "postgresql": "initdb",
    "mariadb-server": "mariadbd",
    "munge": "munged",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "slurmdbd": "slurmdbd",
    "slurm-client": "sbatch",
    "chromium": "chromium",
}
ROOTLESS = {"chromium"}  # the other packages are services that run as their own accounts


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def is_installed(package: str) -> bool:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", *glob.glob("/usr/lib/postgresql/*/bin")])
    return shutil.which(DEBIAN_PROGRAMS[package], path=path) is not None


def missing_for(packages: tuple[str, ...]) -> str | None:
    """Why a system test cannot run here (None when it can)."""
    unknown = [package for package in packages if package not in DEBIAN_PROGRAMS]
    assert not unknown, f"system marker names unknown packages {unknown}: add them to DEBIAN_PROGRAMS"
    missing = [package for package in packages if not is_installed(package)]
    if missing:
        names = " ".join(missing)
        return f"needs Debian's {names}: apt-get install {names} (or run bash .ci/run)"
    if set(packages) - ROOTLESS and os.geteuid() != 0:
        return "needs root: the services run as their own accounts (postgres, mysql, munge, slurm)"
    return None


def system_packages(item) -> set[str]:
    """The Debian packages a test's `system` marks name (empty for a test of another tier)."""
    return {package for mark in item.iter_markers("system") for package in mark.args}


# Folders whose conftest builds session fixtures that several modules share (the report's stores).
SHARED_FIXTURES = {"report": {"store", "single_run_store", "optimizer_sweeps", "two_searches"}}


def shared_fixtures(item) -> set[str]:
    return SHARED_FIXTURES.get(item.path.parent.name, set()) & set(getattr(item, "fixturenames", ()))


def xdist_group(item) -> str:
    """The worker group of a test under pytest-xdist's loadgroup: a module's tests stay together (its
    module fixtures are built once), as do the tests that use one of a folder's shared session fixtures
    (one group a fixture: each is built once, and two workers may build two of them at once), and every
    system test of a service shares one worker, which starts each (team server, SLURM cluster) once."""
    if system_packages(item) - ROOTLESS:
        return "system"
    shared = shared_fixtures(item)
    return "+".join(sorted(shared)) if shared else item.path.stem


def pytest_collection_modifyitems(items):
    """The order in which pytest-xdist's workers take the groups (`--no-loadscope-reorder`): first those
    that build a shared session fixture (real sweeps, ~25-30 s each before their first test), then the
    others, most tests first (xdist's own order). Ordered by test count alone, the 70 s group of the
    report's `store` started fifth and ran alone at the end, and the default tier took 4:02."""
    group = {item.nodeid: item.get_closest_marker("xdist_group").args[0] for item in items}  # as collected
    sizes = Counter(group.values())
    items.sort(key=lambda item: (not shared_fixtures(item), -sizes[group[item.nodeid]], group[item.nodeid]))


def pytest_itemcollected(item):
    # as each test is collected: before any pytest_collection_modifyitems, where xdist reads the groups
    # (hook order between conftests and plugins differs between pytest versions)
    item.add_marker(pytest.mark.xdist_group(xdist_group(item)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.get_closest_marker("system") is None:
        return
    reason = missing_for(tuple(sorted(system_packages(item))))
    if reason is None:
        return
    if under_ci():
        pytest.fail(f"CI=true and this system test {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """A sqlite file with MLflow's tables, made once a session: a copy spares a command MLflow's
    migrations (4-8 s here) wherever creating the store is not what the test is about."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store_dir(tmp_path, empty_store) -> Path:
    """`tmp_path` holding a copy of the migrated empty store as `mlflow.db`."""
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    return tmp_path


def pytest_sessionstart(session):
    # Collecting imports MLflow, Hydra, Optuna and matplotlib in every worker: ~300,000 objects that the
    # collector would walk again and again while they load (collection 12-15 s -> 8-8.6 s a process).
    # They live the whole session, so they are frozen out of later collections too (harness.collector).
    gc.disable()


def pytest_collection_finish(session):
    gc.freeze()
    gc.enable()
    # pytest 9.2 with pytest-xdist 3.8 ignores the groups (the node ids keep no @group): each worker
    # would then build the shared fixtures again, and two would start a team server and a SLURM cluster.
    grouping = getattr(session.config.option, "loadgroup", False)
    if grouping and session.items and "@" not in session.items[0].nodeid:
        raise pytest.UsageError(
            f"pytest {pytest.__version__} drops pytest-xdist's xdist_group marks: "
            "pip install -e '.[dev]' installs a pytest that keeps them"
        )
