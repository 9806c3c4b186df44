"""The sweep's progress as the launching process shows it, from how each job run ended."""

from __future__ import annotations

import io
import time
from collections import Counter

from harness.runner.sweep_progress import SweepProgress, progress_line


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
