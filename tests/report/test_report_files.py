"""`python -m harness.report` and `write_report` on real sweeps: the files, their content, the MLflow copy."""

from __future__ import annotations

import base64
import html as markup
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.data import find_sweep, load_runs
from harness.report import main, summarize, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def grid_report(store, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The command run once on the two-key grid sweep."""
    out = tmp_path_factory.mktemp("reports")
    result = subprocess.run(
        [sys.executable, "-m", "harness.report", "--sweep", store.grid, "--out", str(out)],
        cwd=out,
        env={**os.environ, "MLFLOW_TRACKING_URI": store.uri},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result, out / store.grid


def markdown_summary_rows(markdown: str) -> list[str]:
    """The data rows of the table under `## Summary`."""
    section = markdown.split("## Summary", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    return table[2:]  # past the header and the rule


def embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_command_prints_the_summary_and_where_it_wrote(grid_report):
    result, directory = grid_report

    lines = result.stdout.splitlines()
    assert lines[0].startswith("Sweep ") and "best first" in lines[0]
    assert re.match(r"\s*lr\s+width\s+n\s+failed\s+final_loss\s+eval_mse", lines[1])
    assert "Best setting: lr=" in result.stdout
    for name in ["report.html", "report.md", "runs.csv", "summary.csv", "loss_curves.png"]:
        assert f"wrote {directory / name}" in result.stdout
    assert "logged to MLflow run" in result.stdout


def test_html_is_one_file_with_the_summary_table_and_embedded_images(grid_report):
    _, directory = grid_report
    html = (directory / "report.html").read_text()
    summary = pd.read_csv(directory / "summary.csv")

    assert re.search(r'<table[^>]* class="[^"]*summary"', html)
    for mean in summary["eval_mse_mean"]:
        assert f"{mean:.3g}" in html
    images = embedded_pngs(html)
    assert len(images) == len(list(directory.glob("*.png"))) == 4
    assert all(image.startswith(PNG_SIGNATURE) for image in images)
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing to fetch: no file or URL referenced


def test_markdown_table_has_one_row_per_setting(grid_report, store):
    _, directory = grid_report
    rows = markdown_summary_rows((directory / "report.md").read_text())

    settings = pd.read_csv(directory / "summary.csv")
    assert len(rows) == len(settings) == len(store.GRID["lr"]) * len(store.GRID["width"])
    assert all(row.count("|") == rows[0].count("|") for row in rows)


def test_csv_files_hold_one_row_per_run_and_one_per_setting(grid_report, store):
    _, directory = grid_report
    runs = pd.read_csv(directory / "runs.csv")
    summary = pd.read_csv(directory / "summary.csv")

    assert len(runs) == 8 and set(runs["status"]) == {"FINISHED"}
    flat = {
        "lr",
        "width",
        "n",
        "n_failed",
        "final_loss_mean",
        "final_loss_std",
        "eval_mse_mean",
        "eval_mse_std",
    }
    assert flat <= set(summary.columns)
    expected = summarize(load_runs(sweep=store.grid, tracking_uri=store.uri), ["lr", "width"])
    pd.testing.assert_frame_equal(summary[sorted(flat)], expected[sorted(flat)], check_dtype=False)


def test_figures_include_sensitivity_and_a_heatmap_for_two_keys(grid_report):
    _, directory = grid_report
    assert {path.name for path in directory.glob("*.png")} == {
        "loss_curves.png",
        "fit.png",
        "sensitivity.png",
        "heatmap.png",
    }


def test_report_is_logged_to_the_parent_run(grid_report, store):
    _, directory = grid_report
    parent = find_sweep(sweep=store.grid, tracking_uri=store.uri).root_run_id
    client = store.client()

    logged = {Path(artifact.path).name for artifact in client.list_artifacts(parent, "report")}
    assert logged == {path.name for path in directory.iterdir()}
    assert client.get_run(parent).data.tags["role"] == "sweep"


def test_a_sweep_where_every_run_diverged_says_so_and_lists_the_reasons(store, tmp_path):
    html_path = write_report(sweep=store.diverged, out_dir=tmp_path, tracking_uri=store.uri)

    html = html_path.read_text()
    assert html_path == tmp_path / store.diverged / "report.html"
    assert "every run diverged" in html
    reasons = load_runs(sweep=store.diverged, tracking_uri=store.uri)["failure_reason"]
    for reason in set(reasons):
        assert markup.escape(reason) in html
    assert list(pd.read_csv(html_path.parent / "summary.csv")["n"]) == [0, 0]
    assert not (html_path.parent / "fit.png").exists()  # nothing finished: no fitted curve to show


def test_a_single_run_gets_a_summary_curve_and_fit_but_no_sensitivity(store, tmp_path):
    html_path = write_report(sweep=store.single, out_dir=tmp_path, tracking_uri=store.uri)

    directory = html_path.parent
    assert {path.name for path in directory.glob("*.png")} == {"loss_curves.png", "fit.png"}
    assert len(markdown_summary_rows((directory / "report.md").read_text())) == 1
    assert "Best setting:" in html_path.read_text()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--sweep", "nope"], "no sweep 'nope' in experiment 'autograd-mlp'; recent sweeps: "),
        (["--experiment", "nope"], "no experiment 'nope' in sqlite:///"),
    ],
)
def test_command_refuses_unknown_names_in_one_line(store, tmp_path, capsys, arguments, message):
    code = main([*arguments, "--tracking-uri", store.uri, "--out", str(tmp_path)])

    error = capsys.readouterr().err
    assert code != 0 and message in error and error.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (["--sweep", "it's"], """harness.report: --sweep "it's" is not a sweep id"""),
        (["--out", "/proc/x"], "harness.report: cannot write the report to /proc/x"),
    ],
)
def test_command_refuses_a_quote_in_the_sweep_and_an_unwritable_out(store, tmp_path, capsys, arguments, line):
    code = main(["--tracking-uri", store.uri, "--out", str(tmp_path / "out"), *arguments])

    error = capsys.readouterr().err
    assert code == 2 and error.startswith(line) and error.count("\n") == 1, error
    assert not (tmp_path / "out").exists()


def test_command_on_an_empty_directory_says_to_run_the_runner_first(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    assert main([]) != 0
    assert "run `python -m harness.run` first" in capsys.readouterr().err


def test_the_command_lists_below_the_verdict_the_runs_it_says_did_not_finish(store, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "harness.report", "--sweep", store.diverged, "--out", str(tmp_path)],
        cwd=tmp_path, env=store.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = load_runs(sweep=store.diverged, tracking_uri=store.uri)
    unfinished = runs[runs["status"] != "FINISHED"]
    assert len(unfinished) == 4 and "listed below" in result.stdout
    below = result.stdout.split("listed below", 1)[1].split("\n\n", 1)[0].splitlines()
    assert below[1] == "Runs that did not finish:"
    rows = below[3:]  # past the heading and the table's header
    assert len(rows) == len(unfinished)
    for run in unfinished.itertuples():  # each one by its setting and seed, with its reason
        named = [f"lr={run.lr:g}", str(run.seed), run.status]
        listed = [row for row in rows if row.split()[:3] == named and run.failure_reason[:60] in row]
        assert len(listed) == 1, run.run_id


def test_each_setting_has_the_command_that_reruns_its_best_seed(grid_report):
    _, directory = grid_report
    section = (directory / "report.md").read_text().split("## Reproduce", 1)[1].split("\n## ", 1)[0]
    summary = pd.read_csv(directory / "summary.csv")
    assert section.count("python -m harness.run rerun=") == len(summary) == 4
    for run_id in summary["best_run_id"]:
        assert f"python -m harness.run rerun={run_id}" in section
    assert "python -m harness.run rerun=" in (directory / "report.html").read_text()


def test_figures_drawn_side_by_side_are_the_bytes_drawn_one_after_another(store, monkeypatch):
    from harness.analysis import drawing
    from harness.report import build

    read = build.read_sweep(find_sweep(sweep=store.grid, tracking_uri=store.uri))
    default = build.draw_figures(read)  # one worker a figure, at most one a core
    monkeypatch.setattr(build, "draw_in_parallel", lambda drawers: drawing.draw_figures(drawers, workers=1))
    one_after_another = build.draw_figures(read)
    monkeypatch.setattr(build, "draw_in_parallel", lambda drawers: drawing.draw_figures(drawers, workers=3))
    forked = build.draw_figures(read)
    assert [figure.name for figure in forked] == ["loss_curves", "fit", "sensitivity", "heatmap"]
    assert forked == one_after_another == default
    assert drawing._drawers == {}  # nothing kept alive after the page


def test_a_searchs_figures_drawn_side_by_side_are_the_bytes_drawn_one_after_another():
    import optuna

    from harness.analysis import drawing
    from harness.report.search import SearchFacts, search_drawers

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(
        lambda trial: (
            (np.log10(trial.suggest_float("lr", 1e-4, 1e-1, log=True)) + 2.5) ** 2
            + trial.suggest_categorical("width", [16, 32, 64]) / 64
        ),
        n_trials=12,
    )
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(12)], "optuna_trial": range(12)})
    runs = runs.assign(status="FINISHED", pruned_at_step=None)
    steps = np.arange(100)
    curves = pd.concat(
        pd.DataFrame({"run_id": f"r{i}", "step": steps, "loss": 1 / (1 + steps) + 0.01 * i})
        for i in range(12)
    )

    def drawn(workers: int) -> list:
        drawers = search_drawers(SearchFacts(study, "sqlite://"), runs, curves)
        return drawing.draw_figures({name: (("t", "c"), draw) for name, draw in drawers.items()}, workers)

    one_after_another, forked = drawn(1), drawn(3)
    names = ["search_curves", "search_history", "search_importances", "search_contour", "search_slices"]
    assert [figure.name for figure in forked] == names
    assert forked == one_after_another


def test_a_figure_that_fails_in_a_worker_fails_the_report_with_its_own_error():
    from harness.analysis import drawing

    def broken():
        raise ValueError("no data to draw")

    with pytest.raises(ValueError, match="no data to draw"):
        drawing.draw_figures({"one": (("t", "c"), lambda: None), "two": (("t", "c"), broken)}, workers=2)
    assert drawing._drawers == {}


SLOW_FIGURES = """
import sys, time
from harness.analysis import drawing

def slow():
    time.sleep(120)

print("drawing", flush=True)
drawing.draw_figures({"a": (("t", "c"), slow), "b": (("t", "c"), slow)}, workers=2)
"""


def test_an_interrupted_report_stops_its_figure_workers_at_once():
    """Ctrl-C reaches the workers too; SIGINT to the command's process alone (or a sweep's SIGTERM,
    raised as an interrupt in its launching process only) must not wait for them to finish drawing."""
    import psutil

    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_FIGURES],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout.readline() == "drawing\n"
        deadline = time.monotonic() + 60
        while len(psutil.Process(process.pid).children()) < 2:
            assert time.monotonic() < deadline, "the figure workers never started"
            time.sleep(0.05)
        workers = psutil.Process(process.pid).children()
        os.kill(process.pid, signal.SIGINT)  # the command's process only, not its workers
        process.wait(timeout=30)  # the drawers sleep 120 s: waiting for them would time out
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"figure workers left running: {[worker.pid for worker in alive]}"
        assert process.returncode != 0 and "KeyboardInterrupt" in process.stderr.read()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


QUIET_WORKERS = """
import signal
from harness.analysis import drawing
from harness.job.signals import raise_on_sigterm

def in_a_quiet_worker():
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        raise RuntimeError(f"a figure worker kept the handler {signal.getsignal(signal.SIGTERM)}")

raise_on_sigterm(launcher=True)  # what a sweep's launching process runs
for _ in range(20):  # the traceback came from one pool in a few: each ended with workers idle
    drawing.draw_figures({name: (("t", "c"), in_a_quiet_worker) for name in "abcd"}, workers=2)
print("drawn")
"""


def test_figure_workers_end_silently_in_a_sweeps_launching_process():
    """The pool ends its workers with SIGTERM; they inherited the launching process's handler, which
    raised in them and printed 'Process ForkPoolWorker-1:' and a traceback amid the sweep's output (CI's
    terminal test caught it)."""
    command = [sys.executable, "-c", QUIET_WORKERS]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "drawn\n", result.stderr
    assert "ForkPoolWorker" not in result.stderr and "Traceback" not in result.stderr, result.stderr
