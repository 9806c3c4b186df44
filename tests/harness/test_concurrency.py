"""Commands started at the same moment in one folder, with Hydra's default folders: each owns its sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from harness.tracking import Tags
from tests.harness.conftest import harness_env

pytestmark = pytest.mark.slow

COMMANDS = {  # seeds -> launcher
    "0,1": [],
    "2,3": [],
    "4,5": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
}


def test_commands_started_together_in_one_folder_each_get_exactly_their_own_jobs(stored, store_dir):
    uri = f"sqlite:///{store_dir}/mlflow.db"
    processes = {
        seeds: subprocess.Popen(
            [sys.executable, "-m", "harness.run", "-m", f"seed={seeds}", "steps=30", "report=false"]
            + launcher,
            cwd=store_dir,
            env=harness_env(uri),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for seeds, launcher in COMMANDS.items()
    }
    outputs = {}
    try:
        for seeds, process in processes.items():
            outputs[seeds] = process.communicate(timeout=240)[0]
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    for seeds, process in processes.items():
        assert process.returncode == 0, outputs[seeds][-3000:]
    store = stored(uri)
    parents = store.parents()
    assert len(parents) == len(COMMANDS)
    by_seeds = {}
    for parent in parents:
        children = store.children(parent)
        seeds = ",".join(sorted(run.data.params["seed"] for run in children))
        by_seeds[seeds] = parent
        sweep_id = parent.data.tags[Tags.SWEEP_ID]
        assert {run.data.tags[Tags.SWEEP_ID] for run in children} == {sweep_id}
        assert {run.info.status for run in children} == {"FINISHED"} and parent.info.status == "FINISHED"
        assert f"sweep {sweep_id} done: 2 finished" in outputs[seeds]
        (folder,) = (store_dir / "multirun").glob(f"*/{sweep_id}")  # the command's own folder
        assert sorted(path.name for path in folder.iterdir() if path.is_dir()) == ["0", "1"]
    assert sorted(by_seeds) == sorted(COMMANDS)
    assert len(store.children()) == 2 * len(COMMANDS)
