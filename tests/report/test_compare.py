"""`python -m harness.report --compare A B`, in this process, on real sweeps made by the real runner."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from harness.report import find_sweep, main
from harness.report.data import load_runs


def compare(capsys, uri: str, out: Path, *arguments: str) -> tuple[int, str, str]:
    code = main(["--compare", *arguments, "--out", str(out), "--tracking-uri", uri])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def written(out: Path) -> Path:
    (directory,) = out.glob("compare-*")
    return directory


@pytest.fixture(scope="module")
def optimizer_compare(optimizer_sweeps, tmp_path_factory) -> tuple[str, Path]:
    """`--compare A B --by lr` of the adamw and seed_adamw sweeps, run once: its output and folder."""
    out = tmp_path_factory.mktemp("compare")
    code = main(["--compare", optimizer_sweeps.a, optimizer_sweeps.b, "--by", "lr", "--out", str(out),
                 "--tracking-uri", optimizer_sweeps.uri])  # fmt: skip
    assert code == 0
    return out


def test_a_sweep_compared_with_itself_shows_no_difference_in_any_setting(store, tmp_path, capsys):
    code, printed, _ = compare(capsys, store.uri, tmp_path, store.grid, store.grid)
    assert code == 0
    assert "B better in 0 of 4 settings, worse in 0, 4 within seed noise" in printed
    assert "no difference at all" in printed
    numbers = pd.read_csv(written(tmp_path) / "compare.csv")
    assert len(numbers) == 4 * 2  # 4 settings, final_loss and eval_mse
    assert (numbers["difference"] == 0).all() and (numbers["p_value"] == 1).all()
    assert set(numbers["test"]) == {"paired t-test (2 seeds)"}


def test_adamw_against_seed_adamw_finds_the_known_difference_at_the_small_learning_rate(
    optimizer_sweeps, optimizer_compare
):
    numbers = pd.read_csv(written(optimizer_compare) / "compare.csv").set_index(["setting", "metric"])
    small, large = numbers.loc[("lr=0.001", "eval_mse")], numbers.loc[("lr=0.01", "eval_mse")]
    assert small["outcome"] == "better" and small["ci_high"] < 0 and small["p_value"] < 0.05
    assert large["outcome"] == "within seed noise" and large["ci_low"] < 0 < large["ci_high"]
    assert small["test"] == "paired t-test (3 seeds)"
    # the difference is the one the runs hold: mean over seeds of B minus mean of A
    runs_a = load_runs(sweep=optimizer_sweeps.a, tracking_uri=optimizer_sweeps.uri)
    runs_b = load_runs(sweep=optimizer_sweeps.b, tracking_uri=optimizer_sweeps.uri)
    mean_a = runs_a[runs_a["lr"] == 1e-3]["eval_mse"].mean()
    mean_b = runs_b[runs_b["lr"] == 1e-3]["eval_mse"].mean()
    assert small["difference"] == pytest.approx(mean_b - mean_a)


def test_the_verdict_counts_the_settings_and_names_the_biggest_change(optimizer_compare):
    html = (written(optimizer_compare) / "compare.html").read_text()
    verdict = re.search(r'<p class="verdict">(.*?)</p>', html).group(1)
    assert verdict.startswith("B better in 1 of 2 settings, worse in 0, 1 within seed noise")
    assert "Biggest changes: lr=0.001:" in verdict
    assert "optimizer: adamw → seed_adamw" in html  # what differs between the sweeps
    assert html.count('src="data:image/png;base64,') == 2


def test_the_page_is_html_markdown_csv_and_figures_logged_on_b_parent_run(
    optimizer_sweeps, optimizer_compare
):
    directory = written(optimizer_compare)
    names = {"compare.html", "compare.md", "compare.csv", "compare_settings.png", "compare_curves.png"}
    assert {path.name for path in directory.iterdir()} == names
    markdown = (directory / "compare.md").read_text()
    assert "| lr=0.001 " in markdown and "| lr=0.01 " in markdown
    parent = find_sweep(sweep=optimizer_sweeps.b, tracking_uri=optimizer_sweeps.uri).root_run_id
    logged = MlflowClient(tracking_uri=optimizer_sweeps.uri).list_artifacts(
        parent, f"compare/{optimizer_sweeps.a}"
    )
    assert {Path(artifact.path).name for artifact in logged} == names


def test_without_by_the_two_optimizer_sweeps_share_no_setting_and_the_line_says_which_key(
    optimizer_sweeps, tmp_path, capsys
):
    code, _, error = compare(capsys, optimizer_sweeps.uri, tmp_path, optimizer_sweeps.a, optimizer_sweeps.b)
    assert code == 2 and len(error.strip().splitlines()) == 1
    assert "share no setting" in error and "optimizer (A: adamw; B: seed_adamw)" in error
    assert "--by lr" in error
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_by_default_the_two_latest_sweeps_are_compared_older_first(optimizer_sweeps, tmp_path, capsys):
    code, printed, _ = compare(capsys, optimizer_sweeps.uri, tmp_path, "--by", "lr")
    assert code == 0
    assert printed.splitlines()[0] == f"A: sweep {optimizer_sweeps.a}   B: sweep {optimizer_sweeps.b}"


def test_parent_run_ids_name_their_sweeps(optimizer_sweeps, tmp_path, capsys):
    parents = [
        find_sweep(sweep=s, tracking_uri=optimizer_sweeps.uri).root_run_id
        for s in (optimizer_sweeps.a, optimizer_sweeps.b)
    ]
    code, printed, _ = compare(capsys, optimizer_sweeps.uri, tmp_path, *parents, "--by", "lr")
    assert code == 0 and f"A: sweep {optimizer_sweeps.a}   B: sweep {optimizer_sweeps.b}" in printed


def test_an_unknown_sweep_is_one_line_naming_it(optimizer_sweeps, tmp_path, capsys):
    code, _, error = compare(
        capsys, optimizer_sweeps.uri, tmp_path, "20990101-000000-beef", optimizer_sweeps.b
    )
    assert code == 2 and len(error.strip().splitlines()) == 1
    assert (
        "no sweep '20990101-000000-beef'" in error and optimizer_sweeps.b in error
    )  # listed as a recent one


def test_an_unknown_by_key_is_one_line_listing_the_keys(optimizer_sweeps, tmp_path, capsys):
    code, _, error = compare(
        capsys,
        optimizer_sweeps.uri,
        tmp_path,
        optimizer_sweeps.a,
        optimizer_sweeps.b,
        "--by",
        "learning_rate",
    )
    assert code == 2 and len(error.strip().splitlines()) == 1
    assert "--by 'learning_rate'" in error and "lr" in error.split("keys:")[1]


def test_a_run_whose_curve_is_gone_is_one_line_naming_the_run_and_the_file(
    optimizer_sweeps, tmp_path, capsys
):
    runs = load_runs(sweep=optimizer_sweeps.b, tracking_uri=optimizer_sweeps.uri)
    run = runs.iloc[0]
    curve = Path(run["artifact_uri"].removeprefix("file://")) / "curve.npz"
    aside = curve.with_name("curve.npz.aside")
    curve.rename(aside)
    try:
        code, _, error = compare(
            capsys, optimizer_sweeps.uri, tmp_path, optimizer_sweeps.a, optimizer_sweeps.b, "--by", "lr"
        )
    finally:
        aside.rename(curve)
    assert code == 2 and len(error.strip().splitlines()) == 1
    assert f"run {run['run_id']} ({run['run_name']})" in error and "curve.npz is missing" in error
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_two_searches_with_no_setting_in_common_compare_their_best_found_and_say_so(
    two_searches, tmp_path, capsys
):
    code, printed, _ = compare(capsys, two_searches.uri, tmp_path, two_searches.a, two_searches.b)
    assert code == 0
    assert "Searches compared by what each found" in printed and "not held-out seeds" in printed
    numbers = pd.read_csv(written(tmp_path) / "compare.csv")
    assert list(numbers["setting"].unique()) == ["best found"]
    runs_a = load_runs(sweep=two_searches.a, tracking_uri=two_searches.uri)
    best_a = runs_a[runs_a["status"] == "FINISHED"].groupby("optuna_trial")["eval_mse"].mean().min()
    assert numbers.set_index("metric").loc["eval_mse", "mean_a"] == pytest.approx(best_a)


def test_by_one_key_pairs_every_run_with_that_value_and_tests_them_with_welch(store, tmp_path, capsys):
    code, printed, _ = compare(capsys, store.uri, tmp_path, store.grid, store.grid, "--by", "width")
    assert code == 0 and "B better in 0 of 2 settings, worse in 0, 2 within seed noise" in printed
    numbers = pd.read_csv(written(tmp_path) / "compare.csv")
    assert set(numbers["setting"]) == {"width=8", "width=16"}
    assert set(numbers["n_a"]) == {4} and set(numbers["test"]) == {"Welch's t-test (4 vs 4 runs)"}
