"""`load_runs`, `load_curves` and `summarize` on real sweeps, checked against MLflow read directly."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

import numpy as np
import pytest

from harness.report import ReportError, find_sweep, load_curves, load_runs, summarize


def raw_job_runs(store, sweep_id: str) -> list:
    """The sweep's job runs straight from MlflowClient: params as strings, metrics as logged."""
    client = store.client()
    experiment = client.get_experiment_by_name("autograd-mlp")
    return client.search_runs(
        [experiment.experiment_id], f"tags.sweep_id = '{sweep_id}' and tags.role = 'job'", max_results=1000
    )


def test_load_runs_gives_one_row_per_job_run_with_params_typed_back(store):
    runs = load_runs(sweep=store.grid, tracking_uri=store.uri)

    expected = set(itertools.product(*store.GRID.values()))
    assert len(runs) == len(expected)
    assert set(zip(runs["lr"], runs["width"], runs["seed"], strict=True)) == expected
    assert runs["lr"].dtype == float and runs["width"].dtype == int and runs["seed"].dtype == int
    assert set(runs["run_id"]) == {run.info.run_id for run in raw_job_runs(store, store.grid)}
    assert (runs["status"] == "FINISHED").all() and (runs["role"] == "job").all()
    assert runs[["final_loss", "eval_mse", "sweep_id", "parent_run_id"]].notna().all().all()


def test_load_runs_reads_the_latest_multi_job_sweep_of_the_default_store_by_default(store, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(store.directory)  # the runner's default store: ./mlflow.db

    runs = load_runs()

    # the single run came last, but `latest` means the latest sweep of more than one job
    assert set(runs["sweep_id"]) == {store.diverged} and len(runs) == 4
    assert "more than one job" in find_sweep(tracking_uri=store.uri).picked


def test_latest_falls_back_to_the_latest_run_when_no_sweep_has_two_jobs(single_run_store):
    uri, sweep_id = single_run_store

    found = find_sweep(tracking_uri=uri)

    assert found.sweep_id == sweep_id and "latest run" in found.picked


def test_load_curves_gives_every_step_of_every_run_in_long_format(store, tmp_path):
    curves = load_curves(sweep=store.grid, tracking_uri=store.uri)

    runs = load_runs(sweep=store.grid, tracking_uri=store.uri)
    assert set(curves["run_id"]) == set(runs["run_id"])
    assert (curves.groupby("run_id")["step"].apply(list) == [list(range(store.STEPS))] * len(runs)).all()
    run_id = runs["run_id"].iloc[0]
    stored = np.load(store.client().download_artifacts(run_id, "curve.npz", str(tmp_path)))["loss"]
    mine = curves[curves["run_id"] == run_id]
    assert list(mine["loss"]) == list(stored)
    history = store.client().get_metric_history(run_id, "loss")  # the metric: a mean per 10 steps
    assert [point.value for point in history] == pytest.approx(stored.reshape(-1, 10).mean(axis=1))
    assert {"setting", "seed", "lr", "width"} <= set(curves.columns)


def test_load_curves_falls_back_to_the_metric_for_a_run_without_its_curve_file(store, tmp_path, monkeypatch):
    from harness.analysis import data

    runs = load_runs(sweep=store.grid, tracking_uri=store.uri)
    missing = runs["run_id"].iloc[0]
    read_npz = data.Tracker.read_npz
    monkeypatch.setattr(
        data.Tracker,
        "read_npz",
        lambda self, uris, path, *rest: {k: v for k, v in read_npz(self, uris, path).items() if k != missing},
    )
    curves = load_curves(sweep=store.grid, tracking_uri=store.uri)
    history = store.client().get_metric_history(missing, "loss")
    mine = curves[curves["run_id"] == missing]
    assert list(zip(mine["step"], mine["loss"], strict=True)) == [(p.step, p.value) for p in history]


def test_summary_matches_aggregates_recomputed_from_mlflow(store):
    by_setting: dict[tuple[float, int], list] = {}
    for run in raw_job_runs(store, store.grid):
        params, metrics = run.data.params, run.data.metrics
        setting = (float(params["lr"]), int(params["width"]))
        by_setting.setdefault(setting, []).append(
            (metrics["eval_mse"], metrics["final_loss"], int(params["seed"]))
        )

    summary = summarize(load_runs(sweep=store.grid, tracking_uri=store.uri), ["lr", "width"])

    assert len(summary) == len(by_setting)
    assert list(summary["eval_mse_mean"]) == sorted(summary["eval_mse_mean"])  # best first
    for row in summary.itertuples():
        seeds = by_setting[(row.lr, row.width)]
        eval_mse = [value for value, _, _ in seeds]
        final_loss = [value for _, value, _ in seeds]
        assert row.n == len(seeds) and row.n_failed == 0
        assert row.eval_mse_mean == pytest.approx(statistics.mean(eval_mse))
        assert row.eval_mse_std == pytest.approx(statistics.stdev(eval_mse))
        assert row.final_loss_mean == pytest.approx(statistics.mean(final_loss))
        assert row.final_loss_std == pytest.approx(statistics.stdev(final_loss))
        assert row.best_seed == min(seeds)[2] and row.worst_seed == max(seeds)[2]
        assert row.setting == f"lr={row.lr:g} width={row.width}"


def test_a_sweep_where_every_run_diverged_is_counted_not_averaged(store):
    runs = load_runs(sweep=store.diverged, tracking_uri=store.uri)

    raw = raw_job_runs(store, store.diverged)
    assert {run.info.status for run in raw} == {"FAILED"}  # the huge learning rates really diverged
    assert list(runs["failure_reason"].notna()) == [True] * len(runs)
    summary = summarize(runs, find_sweep(sweep=store.diverged, tracking_uri=store.uri).setting_keys)
    assert list(summary["n"]) == [0, 0]
    assert list(summary["n_failed"]) == [2, 2]
    assert summary["eval_mse_mean"].isna().all()


def test_a_single_run_is_a_sweep_of_one_setting(store):
    runs = load_runs(sweep=store.single, tracking_uri=store.uri)
    summary = summarize(runs, find_sweep(sweep=store.single, tracking_uri=store.uri).setting_keys)

    assert len(runs) == 1 and runs["parent_run_id"].isna().all()
    assert list(summary["setting"]) == [runs["setting"].iloc[0]]
    assert summary["n"].iloc[0] == 1 and np.isnan(summary["eval_mse_std"].iloc[0])
    assert summary["eval_mse_mean"].iloc[0] == pytest.approx(runs["eval_mse"].iloc[0])


def test_an_unknown_sweep_is_refused_with_the_recent_sweeps(store):
    with pytest.raises(
        ReportError, match=f"no sweep 'nope'.*recent sweeps: {store.single}, {store.diverged}"
    ):
        load_runs(sweep="nope", tracking_uri=store.uri)


def test_an_unknown_experiment_is_refused_with_the_existing_ones(store):
    with pytest.raises(ReportError, match="no experiment 'nope'.*experiments: .*autograd-mlp"):
        load_runs(experiment="nope", tracking_uri=store.uri)


def test_a_missing_store_says_to_run_the_runner_and_is_not_created(tmp_path: Path):
    with pytest.raises(ReportError, match="run `python -m harness.run` first"):
        load_runs(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert not (tmp_path / "mlflow.db").exists()


def test_finding_a_sweep_reads_a_few_of_its_runs_not_all_of_them(store, monkeypatch):
    """The report reads the whole sweep once (`load_runs`); resolving it must not read it all before."""
    from mlflow.tracking import MlflowClient

    fetched = []
    search_runs = MlflowClient.search_runs

    def counting(self, *args, **kwargs):
        page = search_runs(self, *args, **kwargs)
        fetched.extend(run.info.run_id for run in page)
        return page

    monkeypatch.setattr(MlflowClient, "search_runs", counting)
    runs = len(raw_job_runs(store, store.grid))
    fetched.clear()

    found = find_sweep(sweep=store.grid, tracking_uri=store.uri)

    assert found.sweep_id == store.grid and found.root_run_id is not None
    assert len(fetched) <= 4 < runs  # two runs to tell a single run, one job, the parent
