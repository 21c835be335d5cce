"""The paper's tables (Table 1: NQ, Table 2: style) and the gap-closure table, as data; None = not run."""

from __future__ import annotations

from dataclasses import dataclass

from imitate import metrics
from imitate.report.collect import Row
from imitate.report.figures import CAPABILITY, PREFERENCE, base_row, teacher_row
from imitate.tracking import cells

STYLE = (
    metrics.STYLE_LIST,
    metrics.STYLE_SUMMARY,
    metrics.STYLE_UNIGRAM_F1,
    metrics.STYLE_LENGTH_PEARSON,
    metrics.STYLE_AUTHORITATIVE_JUDGE,
)
GAP_METRICS = (*CAPABILITY, metrics.RTP_NONTOXICITY, *PREFERENCE)
NQ_SYNTHETIC = "nq_synthetic"  # the data group option of local imitation


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[str | float | None]]  # first cell is the row label; None = not run


def table1_nq(rows: list[Row]) -> Table:
    """NQ exact match: base / ShareGPT-Mix / NQ-synthetic imitation / teacher, a column per model."""
    models = sorted({r.model for r in rows if r.role != cells.ROLE_TEACHER})
    teacher = teacher_row(rows)
    table = []
    for label, pick in (
        ("base model", lambda m: base_row(rows, m)),
        ("ShareGPT-Mix imitation", lambda m: _most_data(rows, m, broad=True)),
        ("NQ-synthetic imitation", lambda m: _most_data(rows, m, broad=False)),
    ):
        table.append([label] + [_value(pick(m), metrics.NQ_EM) for m in models])
    teacher_label = f"{teacher.model} (teacher)" if teacher else "teacher"
    table.append([teacher_label] + [_value(teacher, metrics.NQ_EM)] * len(models))
    return Table("table1_nq", f"Table 1: NQ ({metrics.NQ_EM})", ["", *models], table)


def table2_style(rows: list[Row]) -> Table:
    """Style similarity to ChatGPT per imitation cell, by data amount, then ChatGPT #2 (the bound)."""
    imitation = sorted(
        (r for r in rows if r.role == cells.ROLE_IMITATION), key=lambda r: (r.model, r.tokens or 0)
    )
    table = [
        [f"{r.model}, {_tokens(r.tokens)} tokens"] + [_value(r, m) for m in STYLE]
        for r in imitation
    ]
    table.append(["ChatGPT #2"] + [_value(teacher_row(rows), m) for m in STYLE])
    return Table("table2_style", "Table 2: style similarity to ChatGPT", ["", *STYLE], table)


def gap_closure(rows: list[Row]) -> Table:
    """(imitation - base) / (teacher - base) per cell and metric: 0 = no gain, 1 = teacher reached."""
    teacher = teacher_row(rows)
    table = []
    for row in sorted(
        (r for r in rows if r.role == cells.ROLE_IMITATION), key=lambda r: (r.model, r.tokens or 0)
    ):
        base = base_row(rows, row.model)
        table.append(
            [f"{row.model}, {_tokens(row.tokens)} tokens"]
            + [closure(row, base, teacher, m) for m in GAP_METRICS]
        )
    return Table(
        "gap_closure",
        "Gap closure: (imitation - base) / (teacher - base)",
        ["", *GAP_METRICS],
        table,
    )


def closure(row: Row, base: Row | None, teacher: Row | None, metric: str) -> float | None:
    values = [_value(r, metric) for r in (row, base, teacher)]
    if None in values or values[2] == values[1]:
        return None  # a missing metric, or no gap to close
    imitation, base_value, teacher_value = values
    return (imitation - base_value) / (teacher_value - base_value)


def _most_data(rows: list[Row], model: str, broad: bool) -> Row | None:
    candidates = [
        r
        for r in rows
        if r.role == cells.ROLE_IMITATION and r.model == model and (r.data != NQ_SYNTHETIC) == broad
    ]
    return max(candidates, key=lambda r: r.tokens or 0, default=None)


def _value(row: Row | None, metric: str) -> float | None:
    return None if row is None else row.metrics.get(metric)


def _tokens(tokens: float | None) -> str:
    if tokens is None:
        return "?"
    return f"{tokens / 1e6:g}M" if tokens >= 1e5 else f"{tokens:,.0f}"


def paper_tables(rows: list[Row]) -> list[Table]:
    return [table1_nq(rows), table2_style(rows), gap_closure(rows)]
