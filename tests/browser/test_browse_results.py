"""A person's walk through a sweep's results in a real browser: Debian's Chromium, driven by
Playwright, on a real `mlflow ui` and the real report page. `harness.browser_tour` is the walk; the
README's screenshots come from the same walk (docs/make_screenshots.py)."""

from __future__ import annotations

import pytest

from harness.browser_tour import COLUMNS, make_sweep, take_tour

pytestmark = pytest.mark.system("chromium")

SWEEP = ["lr=1e-3,1e-2", "seed=0,1", "steps=200"]


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    sweep = make_sweep(tmp_path_factory.mktemp("browse"), *SWEEP)
    return sweep, take_tour(sweep, screenshots=sweep.directory / "screenshots")


def test_the_runs_table_shows_the_sweep_and_expanding_it_shows_every_job_by_name(tour):
    sweep, seen = tour
    assert len(sweep.job_names) == 4 and sorted(seen.jobs_shown) == sorted(sweep.job_names)
    assert set(sweep.job_names) == {"lr=0.001 seed=0", "lr=0.001 seed=1", "lr=0.01 seed=0", "lr=0.01 seed=1"}
    assert seen.columns_shown == COLUMNS


def test_a_jobs_fit_png_loads_in_its_artifacts_tab(tour):
    _, seen = tour
    assert seen.artifact_width > 0


def test_the_report_page_loads_every_image_and_shows_the_verdict(tour):
    sweep, seen = tour
    html = sweep.report.read_text()
    assert len(seen.report_image_widths) == html.count("<img") >= 2
    assert all(width > 0 for width in seen.report_image_widths)
    assert seen.report_verdict == sweep.verdict and seen.report_verdict.startswith("Best setting: lr=")


def test_the_screenshots_are_pictures_of_the_pages(tour):
    _, seen = tour
    assert [path.name for path in seen.screenshots] == ["runs_table.png", "report.png"]
    assert all(
        path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 10_000 for path in seen.screenshots
    )
