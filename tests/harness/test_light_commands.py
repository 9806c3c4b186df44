"""Commands that run no job stay light: `--help` and a refused command load none of the heavy
libraries a job needs (MLflow and its SQL store, Matplotlib, pandas), and the help they print is
Hydra's own, to the character. Properties, not timings: benchmarks/startup.py measures the time."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path, get_args_parser
from hydra.core.global_hydra import GlobalHydra

from harness.checks.help_text import print_app_help
from harness.checks.schema import CONF_DIR

HEAVY = ("mlflow", "mlflow.store.tracking.sqlalchemy_store", "sqlalchemy", "matplotlib", "pandas", "optuna")

# Runs harness.run's main in this process, then names the heavy modules it left in sys.modules.
PROBE = f"""
import sys
from harness.run import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as exit_:
    code = exit_.code
print("loaded:", *[name for name in {HEAVY!r} if name in sys.modules], file=sys.stderr)
sys.exit(code)
"""


def loaded_by(tmp_path, *argv: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("loaded:")]
    return done, line.split()[1:]


@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [(["--help"], 0), (["lr=-1"], 2), (["-m", "lr=1e-3,-1"], 2), (["--help", "optimizer=adam"], 0)],
)
def test_help_and_refused_commands_load_no_heavy_library(tmp_path, argv, exit_code):
    done, loaded = loaded_by(tmp_path, *argv)
    assert done.returncode == exit_code, done.stderr
    assert loaded == []
    assert list(tmp_path.iterdir()) == []


def hydra_help(capsys, argv: list[str]) -> str:
    """What Hydra's own config loader prints for `--help` (as `hydra.main` does)."""
    args = get_args_parser().parse_args(argv)
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))
    hydra = Hydra(task_name="run", config_loader=loader)
    GlobalHydra.instance().initialize(hydra)
    try:
        hydra.app_help(config_name="config", args_parser=get_args_parser(), args=args)
    finally:
        GlobalHydra.instance().clear()
    return capsys.readouterr().out


HELP_COMMANDS = [["--help"], ["--help", "optimizer=sgd", "width=8"], ["--help", "--resolve"]]


@pytest.mark.parametrize("argv", HELP_COMMANDS)
def test_help_is_hydras_own_text(capsys, argv):
    expected = hydra_help(capsys, argv)
    print_app_help(get_args_parser().parse_args(argv))
    shown = capsys.readouterr().out
    assert shown == expected
    assert "optimizer: adam|adamw|seed_adamw|sgd" in shown and "sweeper_default" not in shown


def test_a_grid_report_loads_neither_optuna_nor_scipy(tmp_path):
    probe = "import sys, harness.report; print(*[m for m in ('optuna', 'scipy.stats') if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
