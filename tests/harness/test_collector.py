"""A command freezes what MLflow's import made out of the garbage collector's walks (harness.collector);
a library caller's collector is left as it was. Properties, not timings: benchmarks/startup.py and
benchmarks/report.py measure the time."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from harness import collector

# Runs a command as `python -m` does, then says how many objects it froze, in how many freezes, and
# whether it collects.
PROBE = """
import atexit, gc, runpy, sys
freezes, freeze = [], gc.freeze
gc.freeze = lambda: (freezes.append(1), freeze())[1]
atexit.register(lambda: print("frozen", gc.get_freeze_count(), len(freezes), gc.isenabled(), file=sys.stderr))
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def command(directory, module: str, *argv: str) -> tuple[int, str, int, int, bool]:
    """Exit code, stderr, objects frozen, freezes, collecting at exit."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *argv],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{directory / 'mlflow.db'}"},
    )
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("frozen ")]
    _, frozen, freezes, collecting = line.split()
    return done.returncode, done.stderr, int(frozen), int(freezes), collecting == "True"


def test_a_library_caller_keeps_its_collector_as_it_was(monkeypatch):
    monkeypatch.setattr(collector, "_command", False)
    before = gc.get_freeze_count()
    with collector.imports_frozen():
        assert gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == before


def test_a_command_imports_without_collections_then_freezes_and_collects_again(monkeypatch):
    monkeypatch.setattr(collector, "_command", True)
    made = [[] for _ in range(10)]  # noqa: F841  # objects the collector tracks, made since the session's freeze
    before = gc.get_freeze_count()  # (the session froze what its collection imported: tests/conftest.py)
    with pytest.raises(ImportError), collector.imports_frozen():
        assert not gc.isenabled()
        import harness.no_such_module  # noqa: F401  # a failed import still ends the pause
    assert gc.isenabled()
    assert gc.get_freeze_count() > before
    kept = [[]]
    kept[0].append(kept)  # a cycle made after the freeze ...
    del kept
    assert gc.collect() > 0  # ... is garbage the collector still finds


def test_importing_the_report_package_loads_no_heavy_library():
    heavy = ("mlflow", "matplotlib", "pandas")
    probe = f"import sys, harness.report; print(*[m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []  # `python -m harness.report` starts before they load


def test_the_report_and_run_commands_freeze_what_mlflow_made_once(store_dir):
    code, stderr, frozen, freezes, collecting = command(store_dir, "harness.report")
    assert code == 2 and "holds no experiment yet" in stderr, stderr  # refused after opening the store
    # its imports, then the store's first opening; MLflow's import alone makes ~280,000 objects
    assert frozen > 100_000 and freezes == 2 and collecting
    sweep = ["-m", "seed=0,1", "steps=5", "report=false", "register=false"]
    code, stderr, frozen, freezes, collecting = command(store_dir, "harness.run", *sweep)
    assert code == 0, stderr
    # the store's check and the first job's imports; not once a job (4), which keeps each job's garbage
    assert frozen > 100_000 and freezes == 2 and collecting
