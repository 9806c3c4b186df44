"""Turn a report's content into a self-contained HTML page (a jinja2 template) and a Markdown page
(pandas' tables): the sweep report and the compare page alike."""

from __future__ import annotations

import base64
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from harness.report.data import SEED_KEY
from harness.report.summary import RANK_METRIC, SUMMARY_METRICS

MISSING = "–"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; font-size: .9rem; }
dl.facts dt { color: #666; } dl.facts dd { margin: 0; font-family: ui-monospace, monospace; }
p.verdict { font-size: 1.05rem; background: #f3f6fa; border-left: 4px solid #3a6ea5; padding: .6rem .9rem; }
p.verdict.failed { background: #fbf0f0; border-left-color: #b33; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: right; white-space: nowrap; }
th { background: #f5f5f5; } table.summary tbody tr:first-child td { font-weight: 600; }
table.failures td, table.reproduce td { text-align: left; } table.details td:first-child { text-align: left; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .85rem; max-width: 60rem; }
"""

TABLE_CLASSES = {"Summary": "summary", "Runs that did not finish": "failures", "Reproduce": "reproduce"}


@dataclass(frozen=True)
class ReportFigure:
    name: str  # file stem: loss_curves -> loss_curves.png
    title: str
    caption: str
    png: bytes
    width: int  # CSS pixels on the page (the PNG holds twice as many: sharp at any zoom)
    height: int

    @property
    def filename(self) -> str:
        return f"{self.name}.png"

    @property
    def base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


@dataclass
class ReportPage:
    title: str
    facts: dict[str, str]
    verdict: str
    all_failed: bool
    summary: pd.DataFrame  # display form, one row per setting
    failures: pd.DataFrame  # display form, one row per run that did not finish
    figures: list[ReportFigure] = field(default_factory=list)
    sections: dict[str, pd.DataFrame] = field(default_factory=dict)  # more tables, after those two
    summary_heading: str = "Summary"


def number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def mean_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return MISSING
    return number(mean) if math.isnan(std) else f"{number(mean)} ± {number(std)}"


def seed_and_value(seed: object, value: float) -> str:
    return MISSING if math.isnan(value) else f"{number(seed)} ({number(value)})"


def display_summary(summary: pd.DataFrame, setting_keys: list[str], one_seed: bool = False) -> pd.DataFrame:
    """The summary as people read it: keys, counts, `mean ± std` per metric, best and worst seed.
    With one seed per setting: keys, whether it finished, and each metric's value."""
    shown = summary[setting_keys or ["setting"]].map(number)
    if one_seed:
        shown["finished"] = ["yes" if n else "no" for n in summary["n"]]
        for metric in SUMMARY_METRICS:
            shown[metric] = summary[f"{metric}_mean"].map(number)
        return shown
    shown["n"] = summary["n"]
    shown["failed"] = summary["n_failed"]
    for metric in SUMMARY_METRICS:
        shown[metric] = [
            mean_std(*pair) for pair in zip(summary[f"{metric}_mean"], summary[f"{metric}_std"], strict=True)
        ]
    for end in ("best", "worst"):
        shown[f"{end} seed ({RANK_METRIC})"] = [
            seed_and_value(*pair)
            for pair in zip(summary[f"{end}_{SEED_KEY}"], summary[f"{end}_{RANK_METRIC}"], strict=True)
        ]
    return shown


def display_failures(failures: pd.DataFrame) -> pd.DataFrame:
    shown = failures[["setting", SEED_KEY, "status", "failure_step", "failure_reason"]].map(number)
    return shown.rename(columns={"failure_step": "step", "failure_reason": "reason"})


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub pipe table (pandas, through tabulate); a `|` in a cell is escaped."""
    escaped = frame.map(lambda value: str(value).replace("|", "\\|"))
    return escaped.to_markdown(index=False, tablefmt="pipe", disable_numparse=True)


def page_sections(page: ReportPage) -> dict[str, pd.DataFrame]:
    """The page's tables under their headings, in order; a table with no row is left out."""
    sections = {page.summary_heading: page.summary, "Runs that did not finish": page.failures} | page.sections
    return {
        heading: table for heading, table in sections.items() if heading == page.summary_heading or len(table)
    }


def render_markdown(page: ReportPage) -> str:
    lines = [f"# {page.title}", ""]
    lines += [f"- **{label}**: `{value}`" for label, value in page.facts.items()]
    lines += ["", f"**{page.verdict}**", ""]
    for heading, table in page_sections(page).items():
        lines += [f"## {heading}", "", markdown_table(table), ""]
    for figure in page.figures:
        lines += [f"## {figure.title}", "", figure.caption, "", f"![{figure.title}]({figure.filename})", ""]
    return "\n".join(lines)


@functools.cache
def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def html_table(heading: str, table: pd.DataFrame) -> Markup:
    """pandas' table (its cells escaped), with the class the CSS styles it by."""
    css_class = TABLE_CLASSES.get(heading, "details")
    return Markup(table.to_html(index=False, classes=css_class, border=0))


def render_html(page: ReportPage) -> str:
    """One self-contained page (templates/page.html.j2): the CSS inline, the figures as base64 data URIs."""
    sections = {heading: html_table(heading, table) for heading, table in page_sections(page).items()}
    return (
        templates()
        .get_template("page.html.j2")
        .render(
            title=page.title,
            style=STYLE,
            facts=page.facts,
            verdict=page.verdict,
            verdict_class="verdict failed" if page.all_failed else "verdict",
            sections=sections,
            figures=page.figures,
        )
    )


def write_page(page: ReportPage, directory: Path, stem: str) -> tuple[Path, Path, list[Path]]:
    """Write the page into `directory`: `<stem>.html`, `<stem>.md` and each figure's PNG; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    figures = []
    for figure in page.figures:
        figures.append(directory / figure.filename)
        figures[-1].write_bytes(figure.png)
    html, markdown = directory / f"{stem}.html", directory / f"{stem}.md"
    html.write_text(render_html(page), encoding="utf-8")
    markdown.write_text(render_markdown(page), encoding="utf-8")
    return html, markdown, figures
