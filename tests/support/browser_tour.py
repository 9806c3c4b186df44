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
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.services.mlflow_server import MlflowServer, is_healthy
from harness.services.process import free_port
from harness.tracking import UI_ADDRESS, UI_COMMAND, UI_READY

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
LOADED_MS = 20_000  # the longest wait for a count that has been drawn to change from its placeholder 0
COLUMNS = ["eval_mse", "final_loss", "lr"]  # the runs table's columns worth adding for a sweep
MODEL_NAME = "model"  # the name the winner's network is logged under (Tracker.log_pyfunc_model)


@dataclass(frozen=True)
class RunningUI:
    base: str  # http://127.0.0.1:<port>
    ready_line_to_answer_s: float  # from the line the README says to wait for to the first answer


@contextlib.contextmanager
def mlflow_ui(tracking_uri: str, cwd: Path) -> Iterator[RunningUI]:
    """`mlflow ui --workers 1` (the command the runner prints) on the store, on a free port of
    127.0.0.1, while the block runs; how long after it printed UI_READY it answered (0 if it answered
    first)."""
    ui = MlflowServer(cwd, port=free_port(), backend_store_uri=tracking_uri, command=UI_COMMAND)
    printed = []

    def answers() -> bool:
        if not printed and UI_READY in ui.log.read_text(errors="replace"):
            printed.append(time.monotonic())
        return is_healthy(ui.url)

    ui.start(seconds=UI_START_SECONDS, ready=answers)
    try:
        yield RunningUI(ui.url, time.monotonic() - printed[0] if printed else 0.0)
    finally:
        ui.stop()


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


def open_runs_table(page, link: str, sweep_name: str):
    """The printed link to the experiment's runs table, with the side assistant closed; the parent row."""
    page.goto(link)
    parent = run_row(page, sweep_name)
    parent.wait_for()
    close_assistant(page)
    return parent


GENAI, MODEL_TRAINING = "GenAI", "Model training"


def ui_view(page) -> str:
    """Which of MLflow's two views the page is in, by its sidebar: GenAI lists *Evaluation runs*, model
    training lists *Models* (and no evaluation runs)."""
    navigation = page.locator("nav")
    navigation.get_by_role("link").first.wait_for()
    evaluation = navigation.get_by_role("link", name="Evaluation runs")
    models = navigation.get_by_role("link", name="Models", exact=True)
    page.wait_for_function(
        "() => [...document.querySelectorAll('nav a')].some(a => ['Evaluation runs', 'Models']"
        ".includes(a.textContent.trim()))"
    )
    if evaluation.count():
        return GENAI
    return MODEL_TRAINING if models.count() else "unknown"


def click_run(page, run_name: str) -> None:
    """Click a run's name in the runs table: its page opens."""
    run_row(page, run_name).get_by_role("link", name=run_name).first.click()
    page.get_by_role("heading", name=run_name).first.wait_for()


def choose_model_training(page) -> None:
    """The one click the README gives: *Model training* at the top left (MLflow remembers it in the
    browser's localStorage and goes to the experiment's runs table)."""
    page.get_by_text(MODEL_TRAINING, exact=True).first.click()
    page.wait_for_url(re.compile(r".*/runs\?.*workflowType=machine_learning.*"))


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


def parent_report_verdict(page, base: str, sweep: SweepMade) -> str:
    """The sweep's run's artifacts tab, `report/report.html` opened there (MLflow shows it in a frame):
    the verdict it shows."""
    page.goto(f"{base}/#/experiments/{sweep.experiment_id}/runs/{sweep.parent_run_id}/artifacts")
    page.reload()  # coming from another run's artifacts tab, the app would keep that run's tree
    page.get_by_text("report", exact=True).first.click()
    page.get_by_text("report.html", exact=True).first.click()
    verdict = page.frame_locator("iframe").first.locator("p.verdict")
    verdict.wait_for()
    return verdict.inner_text()


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
    parent_run_id: str
    parent_name: str
    job_names: list[str]
    best_run_id: str
    best_name: str
    report: Path
    verdict: str
    printed_link: str  # the link the sweep's last line gives (to `mlflow ui`'s default address)
    printed_parent_link: str  # the link to the sweep's own run, printed just before

    def link_on(self, base: str, link: str | None = None) -> str:
        """A printed link (default: the last), on the UI at `base` (the tour's UI listens on a free port)."""
        return (link or self.printed_link).replace(UI_ADDRESS, base, 1)


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
    links = re.findall(r"open (http\S+)$", result.stdout, flags=re.MULTILINE)  # the log's last line
    parent_links = re.findall(r"the sweep's own run .*: (http\S+)$", result.stdout, flags=re.MULTILINE)
    if not links or not parent_links:
        raise RuntimeError("the sweep printed no link to its runs")
    found = find_sweep(tracking_uri=uri)
    outcome = sweep_outcome(found.experiment, found.sweep_id, uri)
    runs = load_runs(sweep=found.sweep_id, tracking_uri=uri)
    return SweepMade(
        directory=directory,
        tracking_uri=uri,
        experiment_id=found.experiment_id,
        sweep_id=found.sweep_id,
        parent_run_id=found.root_run_id,
        parent_name=f"sweep {found.sweep_id}",
        job_names=list(runs["run_name"]),
        best_run_id=outcome.best_run_id,
        best_name=runs.loc[runs["run_id"] == outcome.best_run_id, "run_name"].iloc[0],
        report=directory / report.group(1),
        verdict=outcome.verdict,
        printed_link=links[-1],
        printed_parent_link=parent_links[-1],
    )


@dataclass(frozen=True)
class Tour:
    """What a person saw on the way."""

    ui_ready_line_to_answer_s: float  # from `mlflow ui`'s "Uvicorn running" to its first answer
    view_at_printed_link: str  # GenAI or Model training
    view_at_printed_parent_link: str
    jobs_shown: list[str]  # the job runs found under the expanded parent row, by name
    columns_shown: list[str]
    best_row: str  # the best run's whole row in the runs table (its Models column among the cells)
    view_of_clicked_run_fresh_browser: str  # a run clicked in the table, before any toggle was clicked
    view_of_clicked_run: str  # ... after the README's one click on *Model training*
    view_of_clicked_parent: str
    logged_models_of_best_run: str  # the run page's "Logged models (N)" heading
    models_page_row: str  # the experiment's Models page: the logged model's whole row
    parent_report_verdict: str  # the verdict of report/report.html in the sweep's run's artifacts
    artifact_width: int  # naturalWidth of fit.png in the child's artifacts tab
    report_image_widths: list[int]
    report_verdict: str
    screenshots: list[Path]


def logged_models_heading(page) -> str:
    """The run page's "Logged models (N)" heading, once its count has loaded (it shows 0 until then)."""
    heading = page.get_by_text(re.compile(r"^Logged models \(\d+\)$")).first
    heading.wait_for()
    with contextlib.suppress(Exception):  # a run with no model stays at 0: read it as it is
        page.wait_for_function(
            "() => [...document.querySelectorAll('*')].some(e => e.childElementCount === 0"
            " && /^Logged models \\([1-9]\\d*\\)$/.test(e.textContent.trim()))",
            timeout=LOADED_MS,
        )
    return heading.inner_text().strip()


def take_tour(sweep: SweepMade, screenshots: Path | None = None) -> Tour:
    """What the README's "Browse the results" walks: open the printed link (the runs table), expand the
    sweep, find each job by name, add the useful columns, read the winner's Models cell; click a run
    (in a fresh browser: MLflow opens it in GenAI), click *Model training* once as the README says and
    click the run and the parent again; read the winner's "Logged models" and the experiment's Models
    page; open the best job's fit.png, then the report page. With `screenshots`, save the pages there
    (runs_table.png and report.png are the README's)."""
    saved: list[Path] = []

    def shot(name: str) -> None:
        if screenshots is not None:
            saved.append(screenshot(page, screenshots / name))

    with mlflow_ui(sweep.tracking_uri, sweep.directory) as ui, chromium_page() as page:
        page.goto(sweep.link_on(ui.base, sweep.printed_parent_link))  # a fresh browser: nothing chosen yet
        page.get_by_role("heading", name=sweep.parent_name).first.wait_for()
        view_at_parent_link = ui_view(page)
        link = sweep.link_on(ui.base)
        parent = open_runs_table(page, link, sweep.parent_name)
        view_at_link = ui_view(page)
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
        best_row = whole_row(page, sweep.best_name)
        shot("runs_table.png")

        click_run(page, sweep.best_name)
        fresh_view = ui_view(page)
        shot("run_page_fresh_browser.png")
        choose_model_training(page)
        open_runs_table(page, link, sweep.parent_name)
        click_run(page, sweep.parent_name)
        parent_view = ui_view(page)
        page.go_back()
        run_row(page, sweep.parent_name).first.wait_for()
        if not run_row(page, sweep.best_name).count():  # the table may remember the sweep expanded
            expand_sweep(page, run_row(page, sweep.parent_name))
        click_run(page, sweep.best_name)
        run_view = ui_view(page)
        logged_models = logged_models_heading(page)
        shot("run_page.png")

        page.get_by_role("link", name="Models", exact=True).first.click()
        page.get_by_role("row").filter(has_text=sweep.best_name).first.wait_for()
        model_row = whole_row(page, MODEL_NAME)
        shot("models_page.png")

        image = open_artifact(page, ui.base, sweep.experiment_id, sweep.best_run_id, "fit.png")
        artifact_width = image.evaluate("image => image.naturalWidth")
        parent_verdict = parent_report_verdict(page, ui.base, sweep)
        shot("parent_report.png")
        page.set_viewport_size(REPORT_VIEWPORT)
        page.goto(sweep.report.resolve().as_uri())
        widths = image_widths(page)
        verdict = page.locator("p.verdict").inner_text()
        shot("report.png")
    return Tour(
        ui.ready_line_to_answer_s, view_at_link, view_at_parent_link, shown, columns, best_row, fresh_view,
        run_view, parent_view, logged_models, model_row, parent_verdict, artifact_width, widths, verdict,
        saved,
    )  # fmt: skip


def whole_row(page, run_name: str) -> str:
    """The text of the run's whole row in the runs table: the grid draws a row as a pinned part (the
    name) and a scrolled part (the other columns, Models among them) sharing its `row-id`."""
    row_id = run_row(page, run_name).first.get_attribute("row-id")
    return " ".join(page.locator(f'[role="row"][row-id="{row_id}"]').all_inner_texts())


def screenshot(page, path: Path, full_page: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path
