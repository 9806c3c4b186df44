"""A person's walk through the results in a real browser: `mlflow ui` on a free port, Debian's Chromium
driven by Playwright, the runs table of the model-training view, a sweep expanded, a child's artifacts,
the report page. One code path for the browser test (tests/browser) and the README's screenshots
(docs/make_screenshots.py). Playwright comes with the `dev` extra; it never downloads a browser here.

The MLflow UI is a single-page app: every step waits for an element, never for a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
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
REPORT_VIEWPORT = {"width": 1200, "height": 1500}  # the report's top: verdict, summary, first figure
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
    server = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
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


def toggle_columns(page, names: list[str]) -> None:
    """Tick (or untick) each column in the Columns menu, found by its search box; then close the menu."""
    page.get_by_role("button", name="Columns", exact=True).click()
    search = page.get_by_placeholder("Search columns")
    for name in names:
        search.fill(name)  # the menu's tree then lists the matching columns, the match in bold
        entry = page.locator(".du-bois-light-tree-title").filter(has_text=re.compile(rf"^{re.escape(name)}$"))
        entry.first.click()
    page.keyboard.press("Escape")


def column_header(page, name: str):
    return page.locator('[role="columnheader"]', has_text=re.compile(rf"^{re.escape(name)}$"))


def open_artifact(page, base: str, experiment_id: str, run_id: str, path: str):
    """A run's artifacts tab with `path` selected; the image it shows (waited for until loaded)."""
    page.goto(f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifacts")
    page.get_by_text(path, exact=True).first.click()
    image = page.locator(f'img[alt="{path}"]').first  # shown from a blob: URL, named by its alt text
    image.wait_for()
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image.element_handle())
    return image


def image_widths(page) -> list[int]:
    """naturalWidth of every image on the page, once each has finished loading."""
    page.wait_for_function("[...document.images].every(image => image.complete)")
    return page.eval_on_selector_all("img", "images => images.map(image => image.naturalWidth)")


@dataclass(frozen=True)
class SweepMade:
    """A sweep made by the real runner in `directory`, as the tour needs it."""

    directory: Path
    tracking_uri: str
    experiment_id: str
    sweep_id: str
    parent_name: str
    job_names: list[str]
    best_run_id: str
    report: Path
    verdict: str


def make_sweep(directory: Path, *arguments: str) -> SweepMade:
    """`python -m harness.run -m *arguments` in `directory` (its own store), then what it made."""
    from harness.report import find_sweep, load_runs, sweep_outcome

    directory = Path(directory).resolve()
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
    command = [
        sys.executable,
        "-m",
        "harness.run",
        "-m",
        *arguments,
        f"hydra.sweep.dir={directory / 'multirun'}",
    ]
    result = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"the sweep failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    report = re.search(r"report: (\S+report\.html)", result.stdout + result.stderr)
    if report is None:
        raise RuntimeError("the sweep wrote no report")
    found = find_sweep(tracking_uri=uri)
    outcome = sweep_outcome(found.experiment, found.sweep_id, uri)
    return SweepMade(
        directory=directory,
        tracking_uri=uri,
        experiment_id=found.experiment_id,
        sweep_id=found.sweep_id,
        parent_name=f"sweep {found.sweep_id}",
        job_names=list(load_runs(sweep=found.sweep_id, tracking_uri=uri)["run_name"]),
        best_run_id=outcome.best_run_id,
        report=directory / report.group(1),
        verdict=outcome.verdict,
    )


@dataclass(frozen=True)
class Tour:
    """What a person saw on the way."""

    jobs_shown: list[str]  # the job runs found under the expanded parent row, by name
    columns_shown: list[str]
    artifact_width: int  # naturalWidth of fit.png in the child's artifacts tab
    report_image_widths: list[int]
    report_verdict: str
    screenshots: list[Path]


def take_tour(sweep: SweepMade, screenshots: Path | None = None) -> Tour:
    """Open the runs table, expand the sweep, find each job by name, add the useful columns, open the
    best job's fit.png, then open the report page; with `screenshots`, save the runs table and the
    report page there (runs_table.png, report.png)."""
    saved = []
    with mlflow_ui(sweep.tracking_uri, sweep.directory) as base, chromium_page() as page:
        parent = open_runs_table(page, base, sweep.experiment_id, sweep.parent_name)
        expand_sweep(page, parent)
        shown = []
        for name in sweep.job_names:
            run_row(page, name).first.wait_for()
            shown.append(name)
        toggle_columns(page, ["Dataset", "Source"])  # on by default, empty here: room for the metrics
        toggle_columns(page, COLUMNS)
        columns = []
        for name in COLUMNS:
            column_header(page, name).first.wait_for()
            columns.append(name)
        if screenshots is not None:
            saved.append(screenshot(page, screenshots / "runs_table.png"))
        image = open_artifact(page, base, sweep.experiment_id, sweep.best_run_id, "fit.png")
        artifact_width = image.evaluate("image => image.naturalWidth")
        page.set_viewport_size(REPORT_VIEWPORT)
        page.goto(sweep.report.resolve().as_uri())
        widths = image_widths(page)
        verdict = page.locator("p.verdict").inner_text()
        if screenshots is not None:
            saved.append(screenshot(page, screenshots / "report.png"))
    return Tour(shown, columns, artifact_width, widths, verdict, saved)


def screenshot(page, path: Path, full_page: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path
