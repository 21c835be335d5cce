"""One self-contained HTML page: figures inlined as base64 PNG, tables with not-run gaps marked."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from imitate.report.figures import FigureData
from imitate.report.tables import Table

STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
span.paper { display: block; color: #555; font-size: 0.85em; }
span.source { display: block; font-size: 0.75em; font-style: italic; }
span.measured { color: #060; }
span.reference { color: #555; }
td.gap { background: repeating-linear-gradient(45deg, #fee, #fee 4px, #fdd 4px, #fdd 8px); color: #a00; }
p.missing { color: #a00; }
"""


def page(
    title: str,
    figures: list[tuple[FigureData, Path]],
    tables: list[Table],
    status_md: str,
    teacher_note: str = "",
) -> str:
    """The report page; ``figures`` pairs each figure's data with its PNG file."""
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
    ]
    parts.append(f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>")
    if teacher_note:
        parts.append(f"<p id='teacher'>{html.escape(teacher_note)}</p>")
    for figure, png in figures:
        parts.append(_figure(figure, png))
    for table in tables:
        parts.append(_table(table))
    if status_md:
        parts.append(f"<h2>Sweep status</h2><pre>{html.escape(status_md)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _figure(figure: FigureData, png: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    missing = [p.metric for p in figure.panels if p.missing]
    note = (
        f"<p class='missing'>Not run (a marked gap in the figure): {html.escape(', '.join(missing))}</p>"
        if missing
        else ""
    )
    alt = html.escape(figure.title)
    return (
        f"<section id='{figure.name}'><h2>{alt}</h2>"
        f"<img alt='{alt}' src='data:image/png;base64,{data}'>{note}</section>"
    )


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = []
    paper = table.paper or [[None] * len(row) for row in table.rows]
    sources = table.sources or [[None] * len(row) for row in table.rows]
    for row, published, source in zip(table.rows, paper, sources, strict=True):
        cells = [f"<td>{html.escape(str(row[0]))}</td>"]
        cells += [
            _cell(ours, p, table.gap, s)
            for ours, p, s in zip(row[1:], published[1:], source[1:], strict=True)
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<section id='{table.name}'><h2>{html.escape(table.title)}</h2>"
        f"<table><tr>{head}</tr>{''.join(body)}</table></section>"
    )


def _cell(
    ours: str | float | None,
    paper: tuple[float, str] | None,
    gap: tuple[str, str],
    source: str | None = None,
) -> str:
    """Our value (or a marked gap), where the teacher's number came from (measured / reference),
    and, where the paper has a number, "paper N" with its source."""
    text = gap[0] if ours is None else number(float(ours))
    title = gap[1] if ours is None else ""
    if source is not None and ours is not None:
        kind = source.split(":")[0]  # measured | reference
        text += f"<span class='source {html.escape(kind)}'>{html.escape(kind)}</span>"
        title = f"teacher {source}"
    if paper is not None:
        value, source = paper
        title = f"{title}; paper: {source}" if title else f"paper: {source}"
        text += f"<span class='paper'>paper {number(value)}</span>"
    marked = " class='gap'" if ours is None else ""
    return f"<td{marked} title='{html.escape(title, quote=True)}'>{text}</td>"


def number(value: float) -> str:
    """Three significant digits: 0.17, 0.312, 49.2, 83, -0.11."""
    return f"{value:.3g}"
