"""The compare page (`python -m harness.report --compare`) as a person opens it: Debian's Chromium,
driven by Playwright, on the file the command prints. Two real sweeps that differ in the optimizer."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from harness.report import main
from tests.support.browser_tour import REPORT_VIEWPORT, chromium_page, make_sweep, screenshot

pytestmark = pytest.mark.system("chromium")

GRID = ["lr=1e-3,1e-2", "seed=0,1,2", "steps=200"]


@pytest.fixture(scope="module")
def compare_page(tmp_path_factory):
    """The two sweeps, `--compare --by lr` run on them, and what the browser shows of its page."""
    directory = tmp_path_factory.mktemp("compare")
    make_sweep(directory, "optimizer=adamw", *GRID)
    made = make_sweep(directory, "optimizer=seed_adamw", *GRID)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        arguments = ["--compare", "--by", "lr", "--out", str(directory / "reports")]
        assert main([*arguments, "--tracking-uri", made.tracking_uri]) == 0
    printed = output.getvalue()
    link = re.search(r"^open (file://\S+compare\.html)$", printed, flags=re.MULTILINE).group(1)
    shot = directory / "compare_page.png"
    with chromium_page() as page:
        page.set_viewport_size(REPORT_VIEWPORT)
        page.goto(link)
        verdict = page.locator("p.verdict")
        figure = page.locator("figure img").first
        figure.scroll_into_view_if_needed()
        seen = {
            "verdict": verdict.inner_text() if verdict.is_visible() else None,
            "figure_visible": figure.is_visible(),
            "figure_width": page.evaluate("img => img.naturalWidth", figure.element_handle()),
            "figure_title": page.locator("h2").filter(has_text="A against B per setting").is_visible(),
        }
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, shot, full_page=True)
    return printed, seen, shot


def test_the_compare_page_shows_the_verdict_on_top(compare_page):
    printed, seen, _ = compare_page
    assert seen["verdict"] is not None and seen["verdict"].startswith("B better in ")
    assert seen["verdict"] in printed  # the page says what the command printed


def test_the_compare_page_shows_the_a_against_b_figure(compare_page):
    _, seen, _ = compare_page
    assert seen["figure_visible"] and seen["figure_width"] > 0 and seen["figure_title"]


def test_the_screenshot_is_a_picture_of_the_page(compare_page):
    _, _, shot = compare_page
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
