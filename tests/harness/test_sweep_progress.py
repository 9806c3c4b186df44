"""The sweep's progress as the launching process shows it, from how each job run ended."""

from __future__ import annotations

import io
import time
from collections import Counter

import pytest

from harness.sweep.progress import SweepProgress, progress_line


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def ends(*outcomes: str) -> dict[str, tuple[str, str]]:
    return {f"run{i}": (f"lr={i}", outcome) for i, outcome in enumerate(outcomes)}


def test_a_line_says_done_of_total_how_they_ended_elapsed_time_left_and_the_job():
    text = progress_line(4, 10, Counter(finished=2, failed=1, pruned=1), 40.0, "lr=0.1", "pruned")

    # 4 done in 40 s: 6 more at the same pace take 60 s
    assert text == (
        "sweep 4/10 jobs done (2 finished, 1 failed, 1 pruned), 00:40 elapsed, ~01:00 left: lr=0.1 pruned"
    )


def test_pruned_failed_and_killed_runs_are_counted_apart():
    pipe = io.StringIO()
    progress = SweepProgress(lambda: {}, 8, pipe)
    progress.show(ends(*["finished"] * 6, "pruned", "pruned"))
    assert pipe.getvalue().splitlines()[-1].startswith("sweep 8/8 jobs done (6 finished, 2 pruned)")
    progress.show(ends(*["finished"] * 6, "pruned", "pruned") | {"x": ("a", "killed"), "y": ("b", "failed")})
    assert "(6 finished, 1 failed, 2 pruned, 1 killed)" in pipe.getvalue().splitlines()[-1]


def test_without_a_terminal_each_job_that_ends_is_one_plain_line_and_a_running_one_none():
    pipe = io.StringIO()
    progress = SweepProgress(lambda: {}, 3, pipe)
    progress.show(ends("finished", "running"))
    progress.show(ends("finished", "failed", "finished"))
    progress.show(ends("finished", "failed", "finished"))  # nothing new: nothing written

    lines = pipe.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"sweep {n}/3 jobs done" for n in (1, 2, 3)]
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["lr=0 finished", "lr=1 failed", "lr=2 finished"]
    assert "\r" not in pipe.getvalue() and "\x1b" not in pipe.getvalue()


def test_a_terminal_gets_one_tqdm_bar_redrawn_in_place():
    terminal = FakeTerminal()
    progress = SweepProgress(lambda: ends("finished", "pruned"), 4, terminal, poll_seconds=60).start()
    progress.show(ends("finished"))
    progress.stop()

    drawn = terminal.getvalue()
    assert "\r" in drawn and drawn.endswith("\n") and drawn.count("\n") == 1  # one line, redrawn
    assert "2/4 jobs done, 1 finished, 1 pruned" in drawn.replace("\r", "\n").splitlines()[-1]


def test_the_thread_polls_until_stopped_and_ends_on_the_last_count():
    polls = []

    def job_ends():
        polls.append(1)
        return ends(*["finished"] * min(len(polls), 3))

    stream = io.StringIO()
    progress = SweepProgress(job_ends, 3, stream, poll_seconds=0.01).start()
    while len(polls) < 3:
        time.sleep(0.01)
    progress.stop()

    assert not progress.thread.is_alive()
    assert stream.getvalue().splitlines()[-1].startswith("sweep 3/3 jobs done (3 finished)")


@pytest.mark.slow
def test_a_sweep_on_a_terminal_shows_one_bar_and_whole_lines(tmp_path):
    """A real sweep with a pseudo-terminal as its stdout and stderr: what a person sees, line by line,
    after the terminal has applied each carriage return."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 140, 0, 0))  # 50 rows, 140 columns
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    command = [sys.executable, "-m", "harness.run", "-m", "lr=1e-3,1e-2", "betas=[0.9,0.9],[0.9,0.99]",
               "steps=300", f"hydra.sweep.dir={tmp_path}/multirun"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the sweep has exited and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=300) == 0
    text = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")  # the terminal's line ends
    shown = [line.split("\r")[-1] for line in text.split("\n")]
    shown = [line for line in shown if line.strip()]

    bars = [line for line in shown if line.startswith("sweep ") and "jobs done" in line]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    jobs = client.search_runs(
        [client.get_experiment_by_name("autograd-mlp").experiment_id], "tags.role = 'job'"
    )
    finished = sum(run.info.status == "FINISHED" for run in jobs)
    counts = ", ".join(f"{n} {name}" for name, n in (("finished", finished), ("failed", 4 - finished)) if n)
    assert len(bars) == 1 and f"4/4 jobs done, {counts}," in bars[0]  # one bar, left at the end
    for line in shown:  # every other line whole: a log line never starts in the middle of the bar
        assert line.startswith("[20") or line in bars, line
    assert not any("#0 :" in line or "] - start " in line for line in shown)  # the bar says as much
    assert any("FAILED, diverged" in line for line in shown)  # what went wrong is still shown
