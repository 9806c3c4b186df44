"""Provenance a run carries (dirty tree, diff hash, versions) and the limits refused before anything runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.checks.preflight import plan_command_line
from harness.checks.validation import ConfigError
from harness.job.provenance import diff_hash, provenance_tags
from tests.harness.conftest import harness_env


def _git(root, *arguments):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments], cwd=root, check=True,
                   capture_output=True)  # fmt: skip


def test_the_diff_hash_changes_with_every_uncommitted_edit_and_is_empty_when_clean(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "targets.py").write_text("A = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "c")
    clean = diff_hash.__wrapped__(tmp_path)
    (tmp_path / "targets.py").write_text("A = 2\n")
    edited = diff_hash.__wrapped__(tmp_path)
    (tmp_path / "targets.py").write_text("A = 3\n")
    edited_again = diff_hash.__wrapped__(tmp_path)
    (tmp_path / "new.py").write_text("B = 1\n")
    with_new_file = diff_hash.__wrapped__(tmp_path)
    assert (
        clean == ""
        and len({edited, edited_again, with_new_file}) == 3
        and all(len(h) == 16 for h in (edited, edited_again, with_new_file))
    )


def test_runs_carry_the_dirty_flag_and_the_library_versions():
    import hydra
    import mlflow
    import numpy

    tags = provenance_tags()
    assert tags["git_dirty"] == str(bool(tags["git_diff_hash"])).lower()
    assert tags["code_version"].endswith(tags["git_diff_hash"])
    assert (tags["version.numpy"], tags["version.mlflow"], tags["version.hydra-core"]) == (
        numpy.__version__, mlflow.__version__, hydra.__version__,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["steps=10000000000000"], "steps=10000000000000 is not allowed: a run would need ~"),
        (["width=100000000"], "width=100000000 is not allowed: a run would need ~"),
        (["batch_size=100000000"], "batch_size=100000000 is not allowed: a run would need ~"),
        (["-m", "width=8,4096", "batch_size=1,1000000"], "batch_size="),  # the sweep's largest job
        (
            ["experiment=" + "x" * 2000],
            "experiment=xxxxxxxxxxxxxxxxxxxx... is not allowed: experiment must be at most 256",
        ),
        (["-m", "seed=range(0,0)"], "seed is swept over no value: the sweep would run no job"),
        (["lr=é"], """could not read lr=é: quote a value with such characters, e.g. 'lr="é"'"""),
        (["-m", "seed=0,1", "--cfg", "job"], "--cfg cannot be used with -m"),
        (["hydra.run.dir=/proc/x"], "hydra.run.dir=/proc/x is not allowed: cannot write a folder there"),
        (
            ["-m", "hydra.sweep.dir=/proc/x"],
            "hydra.sweep.dir=/proc/x is not allowed: cannot write a folder there",
        ),
        (
            ["experiment='run password=hunter2'"],
            "experiment='run password=***' is not allowed: experiment must be",
        ),
    ],
)
def test_limits_are_refused_up_front_with_one_line(argv, line):
    with pytest.raises(ConfigError) as refused:
        plan_command_line(argv)
    assert str(refused.value).startswith(line) and "\n" not in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_billion_steps_is_allowed_its_inputs_are_drawn_in_chunks():
    assert plan_command_line(["steps=1000000000"]).jobs == 1


@pytest.mark.parametrize(
    "argv",
    [["experiment='run password=hunter2'"], ["-m", "seed=0,1", "--cfg", "job"], ["hydra.run.dir=/proc/x"]],
)
def test_refused_commands_exit_2_with_one_line_and_write_nothing(tmp_path, argv):
    done = subprocess.run(
        [sys.executable, "-m", "harness.run", *argv], cwd=tmp_path, env=harness_env(None),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
    assert "hunter2" not in done.stderr
    assert list(tmp_path.iterdir()) == []
