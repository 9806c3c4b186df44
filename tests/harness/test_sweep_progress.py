"""The sweep's progress as the launching process shows it, from counts of job runs by status."""

from __future__ import annotations

import io
import time
from collections import Counter

from harness.runner.sweep_progress import SweepProgress, progress_text


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_says_done_of_total_failed_elapsed_and_time_left():
    text = progress_text(10, Counter(FINISHED=3, FAILED=1, RUNNING=2), elapsed=40.0, bar=False)

    # 4 done in 40 s: 6 more at the same pace take 60 s
    assert text == "sweep 4/10 jobs done, 1 failed, 00:40 elapsed, ~01:00 left"


def test_before_any_job_ends_the_time_left_is_unknown():
    assert "time left unknown yet" in progress_text(3, Counter(RUNNING=1), elapsed=5.0, bar=False)


def test_a_terminal_gets_a_bar_redrawn_in_place_a_pipe_gets_plain_lines():
    counts = iter([Counter(FINISHED=1), Counter(FINISHED=2)])
    terminal, pipe = FakeTerminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = SweepProgress(lambda: Counter(), 2, stream)
        progress.show(next(counts) if stream is terminal else Counter(FINISHED=1))
        progress.show(Counter(FINISHED=2, KILLED=0), final=True)

    assert "\r\x1b[Ksweep [############............] 1/2 jobs done" in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")
    lines = pipe.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["sweep 1/2 jobs done", "sweep 2/2 jobs done"]
    assert "[" not in pipe.getvalue() and "\r" not in pipe.getvalue()


def test_the_thread_polls_until_stopped_and_ends_on_the_last_count():
    polls = []

    def count():
        polls.append(1)
        return Counter(FINISHED=min(len(polls), 3))

    stream = io.StringIO()
    progress = SweepProgress(count, 3, stream, poll_seconds=0.01).start()
    while len(polls) < 3:
        time.sleep(0.01)
    progress.stop()

    assert not progress.thread.is_alive()
    assert stream.getvalue().splitlines()[-1].startswith("sweep 3/3 jobs done, 0 failed")
