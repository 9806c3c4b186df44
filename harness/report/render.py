"""Turn a report's content into a self-contained HTML page and a Markdown page."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field

import pandas as pd

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
th { background: #f5f5f5; } tbody tr:first-child td { font-weight: 600; }
table.failures tbody tr:first-child td { font-weight: normal; } table.failures td { text-align: left; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .85rem; max-width: 60rem; }
"""


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


@dataclass
class ReportPage:
    title: str
    facts: dict[str, str]
    verdict: str
    all_failed: bool
    summary: pd.DataFrame  # display form, one row per setting
    failures: pd.DataFrame  # display form, one row per run that did not finish
    figures: list[ReportFigure] = field(default_factory=list)


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
    """A GitHub pipe table (no `tabulate` needed): a header, a rule, one line per row."""

    def cells(values: list[object]) -> str:
        return "| " + " | ".join(str(value).replace("|", "\\|") for value in values) + " |"

    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    return "\n".join(
        [cells(list(frame.columns)), rule, *(cells(list(row)) for row in frame.itertuples(index=False))]
    )


def render_markdown(page: ReportPage) -> str:
    lines = [f"# {page.title}", ""]
    lines += [f"- **{label}**: `{value}`" for label, value in page.facts.items()]
    lines += ["", f"**{page.verdict}**", "", "## Summary", "", markdown_table(page.summary), ""]
    if len(page.failures):
        lines += ["## Runs that did not finish", "", markdown_table(page.failures), ""]
    for figure in page.figures:
        lines += [f"## {figure.title}", "", figure.caption, "", f"![{figure.title}]({figure.filename})", ""]
    return "\n".join(lines)


def embedded_image(figure: ReportFigure) -> str:
    encoded = base64.b64encode(figure.png).decode("ascii")
    return (
        f'<img alt="{html.escape(figure.title)}" width="{figure.width}" height="{figure.height}" '
        f'src="data:image/png;base64,{encoded}">'
    )


def render_html(page: ReportPage) -> str:
    """One self-contained page: the CSS inline, the figures as base64 data URIs."""
    facts = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in page.facts.items()
    )
    verdict_class = "verdict failed" if page.all_failed else "verdict"
    parts = [
        f"<h1>{html.escape(page.title)}</h1>",
        f'<dl class="facts">{facts}</dl>',
        f'<p class="{verdict_class}">{html.escape(page.verdict)}</p>',
        "<h2>Summary</h2>",
        page.summary.to_html(index=False, classes="summary", border=0),
    ]
    if len(page.failures):
        parts += [
            "<h2>Runs that did not finish</h2>",
            page.failures.to_html(index=False, classes="failures", border=0),
        ]
    for figure in page.figures:
        parts += [
            f"<h2>{html.escape(figure.title)}</h2>",
            f"<figure>{embedded_image(figure)}<figcaption>{html.escape(figure.caption)}</figcaption></figure>",
        ]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(page.title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
