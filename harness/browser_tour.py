"""A person's walk through the results in a real browser: `mlflow ui` on a free port, Debian's Chromium
driven by Playwright, the runs table of the model-training view, a sweep expanded, a child's artifacts,
the report page. One code path for the browser test (tests/browser) and the README's screenshots
(docs/make_screenshots.py). Playwright comes with the `dev` extra; it never downloads a browser here.

The MLflow UI is a single-page app: every step waits for an element, never for a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from harness.tracking import runs_table_url

CHROMIUM = "/usr/bin/chromium"  # Debian's package `chromium` (.ci/run installs it)
CHROMIUM_FLAGS = [  # headless as root, and no calls to Google's services (this machine's network is closed)
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 900}
UI_START_SECONDS = 180  # `mlflow ui` takes 9-25 s to answer here, much longer on a loaded machine
WAIT_MS = 120_000  # the longest wait for one element
COLUMNS = ["eval_mse", "final_loss", "lr"]  # the runs table's columns worth adding for a sweep


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def mlflow_ui(tracking_uri: str, cwd: Path) -> Iterator[str]:
    """`mlflow ui` on the store, on a free port of 127.0.0.1: its base URL while the block runs.
    Stopped by its process group's id (it starts a web server beside itself)."""
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = open(Path(cwd) / "mlflow-ui.log", "w")  # noqa: SIM115 (closed below, after the server)
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def wait_until_healthy(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + UI_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow ui exited with code {server.returncode} before answering")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{base}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.5)
    raise RuntimeError(f"mlflow ui did not answer {base}/health within {UI_START_SECONDS} s")


@contextlib.contextmanager
def chromium_page() -> Iterator:
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


def open_runs_table(page, base: str, experiment_id: str, sweep_name: str):
    """The experiment's runs table (model-training view) with the side assistant closed; the parent row."""
    page.goto(runs_table_url(base, experiment_id))
    parent = run_row(page, sweep_name)
    parent.wait_for()
    close_assistant(page)
    return parent


def close_assistant(page) -> None:
    """MLflow 3's assistant panel takes a third of the page: close it when it is open."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def run_row(page, run_name: str):
    """The table row of the run named `run_name` (exactly)."""
    return page.get_by_role("row").filter(has=page.get_by_text(run_name, exact=True))


def expand_sweep(page, parent) -> None:
    """Click the parent row's expander: its child runs appear below it."""
    parent.locator('button[data-component-id*="runnamecellrenderer"]').first.click()


def show_columns(page, names: list[str]) -> None:
    """Tick each column in the Columns menu (found by its search box), then close the menu."""
    page.get_by_role("button", name="Columns").click()
    search = page.get_by_placeholder("Search columns")
    for name in names:
        search.fill(name)
        page.get_by_title(name, exact=True).first.click()  # the entry of the menu's tree
        page.locator('[role="columnheader"]', has_text=name).first.wait_for()
    page.keyboard.press("Escape")


def open_artifact(page, base: str, experiment_id: str, run_id: str, path: str):
    """A run's artifacts tab with `path` selected; the image it shows (waited for until loaded)."""
    page.goto(f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifacts")
    page.get_by_text(path, exact=True).first.click()
    image = page.locator(f'img[src*="{path}"]').first
    image.wait_for()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
    return image


def image_widths(page) -> list[int]:
    """naturalWidth of every image on the page, once each has finished loading."""
    page.wait_for_function("[...document.images].every(image => image.complete)")
    return page.eval_on_selector_all("img", "images => images.map(image => image.naturalWidth)")
