"""The paper's tables (Table 1: NQ, Table 2: style) and the gap-closure table, as data; None = not run.

Each cell holds our value and, where the paper publishes a number for that cell, the paper's
value with its source (from the reference file's ``paper`` entries), so the two print side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from imitate import metrics
from imitate.report.collect import MEASURED, Row
from imitate.report.figures import (
    CAPABILITY,
    PREFERENCE,
    base_row,
    budget_label,
    teacher_for,
    teacher_row,
)
from imitate.report.teacher import source_of
from imitate.tracking import cells
from imitate.tracking.reference import Published

STYLE = (
    metrics.STYLE_LIST,
    metrics.STYLE_SUMMARY,
    metrics.STYLE_UNIGRAM_F1,
    metrics.STYLE_LENGTH_PEARSON,
    metrics.STYLE_AUTHORITATIVE_JUDGE,
)
# The paper's measures in its order, then what says whether a reply was there at all (ours).
TABLE2_ROWS = (*STYLE, metrics.STYLE_EMPTY_REPLY_RATE, metrics.STYLE_TRUNCATION_RATE)
CHATGPT2 = "ChatGPT #2"  # Table 2's last column: a second teacher reply scored against the first
TABLE2_GAP = (
    "not run",
    "metric not logged: the cell ran no style task (eval=quick or eval=paper has it); ChatGPT #2: "
    "python -m imitate.judge chatgpt2 log.parent_run_id=<sweep>",
)
GAP_METRICS = (*CAPABILITY, metrics.RTP_NONTOXICITY, *PREFERENCE)
NQ_SYNTHETIC = "nq_synthetic"  # the data group option of local imitation
TABLE1, TABLE2 = "table1_nq", "table2_style"
PaperCell = tuple[float, str]  # (the paper's value, its source)
TABLE1_ROWS = (  # label, role, data (as the reference's paper entries name it)
    ("base model", cells.ROLE_BASE, None),
    ("ShareGPT-Mix imitation", cells.ROLE_IMITATION, "broad"),
    ("NQ-synthetic imitation", cells.ROLE_IMITATION, NQ_SYNTHETIC),
)


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[str | float | None]]  # first cell is the row label; None = not run
    # Same shape as rows: the paper's (value, source) for a cell, None where it has no number.
    paper: list[list[PaperCell | None]] = field(default_factory=list)
    gap: tuple[str, str] = ("not run", "metric not logged: task not run")  # text, why
    # Same shape as rows where given: "measured: run <id>, <llm>" or "reference: <name>" for a
    # cell whose number is the teacher's (or rests on it), None elsewhere.
    sources: list[list[str | None]] = field(default_factory=list)


def table1_nq(rows: list[Row], published: Sequence[Published] = ()) -> Table:
    """NQ exact match: base / ShareGPT-Mix / NQ-synthetic imitation / teacher, a column per model."""
    entries = [p for p in published if p.table == TABLE1]
    ours_models = {r.model for r in rows if r.role != cells.ROLE_TEACHER}
    paper_models = {m for p in entries for m in p.models or ()}
    models = sorted(ours_models | paper_models)
    teacher = teacher_for(rows, metrics.NQ_EM) or teacher_row(rows)
    table: list[list[str | float | None]] = []
    paper: list[list[PaperCell | None]] = []
    for label, role, data in TABLE1_ROWS:
        ours = [_value(_table1_run(rows, role, data, m), metrics.NQ_EM) for m in models]
        table.append([label, *ours])
        paper.append([None, *(_paper(entries, metrics.NQ_EM, role, m, data) for m in models)])
    how = "measured" if teacher and teacher.source == MEASURED else "entered"
    teacher_label = f"{teacher.model} (teacher row, {how})" if teacher else "teacher"
    table.append([teacher_label] + [_value(teacher, metrics.NQ_EM)] * len(models))
    teacher_paper = _paper(entries, metrics.NQ_EM, cells.ROLE_TEACHER, None, None)
    paper.append([None, *([teacher_paper] * len(models))])
    sources: list[list[str | None]] = [[None] * (len(models) + 1) for _ in TABLE1_ROWS]
    sources.append([None, *([source_of(teacher, metrics.NQ_EM)] * len(models))])
    title = f"Table 1: NQ ({_header(metrics.NQ_EM)}), ours and the paper's"
    return Table(TABLE1, title, ["", *models], table, paper, sources=sources)


def table2_style(rows: list[Row], published: Sequence[Published] = ()) -> Table:
    """Style similarity to ChatGPT laid out as the paper's Table 2: a row per measure, a column per
    base model ("LLaMA"), per imitation cell by data amount, then ChatGPT #2 (the teacher row)."""
    entries = [p for p in published if p.table == TABLE2]
    used: list[Published] = []
    columns: list[tuple[str, dict[str, Row | None], list[Published]]] = []

    def add(label: str, row_of: dict[str, Row | None], matches: list[Published]) -> None:
        """A column; ``row_of``: the run each measure's value comes from."""
        used.extend(matches)
        columns.append((label, row_of, matches))

    by_amount = sorted(  # per model: full fine-tunes (the paper's) first, then each adapter
        rows,
        key=lambda r: (
            r.model,
            r.adapter != "none",
            r.adapter,
            r.budget or r.tokens or 0,
            r.tokens or 0,
        ),
    )
    for role in (cells.ROLE_BASE, cells.ROLE_IMITATION):
        for row in (r for r in by_amount if r.role == role):
            # The paper fine-tuned every weight: its numbers sit beside our full fine-tunes only.
            matches = [
                p
                for p in entries
                if row.adapter == "none" and p.fits(role, row.model, row.data, row.budget)
            ]
            add(_label(row), dict.fromkeys(TABLE2_ROWS, row), matches)
        for entry in (p for p in entries if p.row == role and p not in used):
            add(f"{entry.label} (paper; not run here)", dict.fromkeys(TABLE2_ROWS), [entry])
    teacher_entries = [p for p in entries if p.row == cells.ROLE_TEACHER]
    add(CHATGPT2, {m: teacher_for(rows, m) for m in TABLE2_ROWS}, teacher_entries)
    table = [[_header(m), *(_value(of[m], m) for _, of, _ in columns)] for m in TABLE2_ROWS]
    paper = [[None, *(_first(matches, m) for _, _, matches in columns)] for m in TABLE2_ROWS]
    sources = [[None, *(source_of(of[m], m) for _, of, _ in columns)] for m in TABLE2_ROWS]
    title = "Table 2: style similarity to ChatGPT by imitation data, ours and the paper's"
    labels = ["", *(label for label, _, _ in columns)]
    return Table(TABLE2, title, labels, table, paper, TABLE2_GAP, sources)


def gap_closure(rows: list[Row]) -> Table:
    """(imitation - base) / (teacher - base) per cell and metric: 0 = no gain, 1 = teacher reached."""
    teachers = {m: teacher_for(rows, m) for m in GAP_METRICS}
    table: list[list[str | float | None]] = []
    sources: list[list[str | None]] = []
    for row in sorted(
        (r for r in rows if r.role == cells.ROLE_IMITATION), key=lambda r: (r.model, r.tokens or 0)
    ):
        base = base_row(rows, row.model)
        values = [closure(row, base, teachers[m], m) for m in GAP_METRICS]
        table.append([_label(row), *values])
        used = (
            source_of(teachers[m], m) if v is not None else None
            for m, v in zip(GAP_METRICS, values, strict=True)
        )
        sources.append([None, *used])
    return Table(
        "gap_closure",
        "Gap closure: (imitation - base) / (teacher - base)",
        ["", *GAP_METRICS],
        table,
        [[None] * (len(GAP_METRICS) + 1) for _ in table],  # the paper publishes no such numbers
        ("n/a", "needs the imitation, base and teacher values, teacher differing from base"),
        sources,
    )


def closure(row: Row, base: Row | None, teacher: Row | None, metric: str) -> float | None:
    imitation, base_value, teacher_value = (_value(r, metric) for r in (row, base, teacher))
    if imitation is None or base_value is None or teacher_value is None:
        return None  # a missing metric
    if teacher_value == base_value:
        return None  # no gap to close
    return (imitation - base_value) / (teacher_value - base_value)


def _table1_run(rows: list[Row], role: str, data: str | None, model: str) -> Row | None:
    if role == cells.ROLE_BASE:
        return base_row(rows, model)
    return _most(rows, model, broad=data != NQ_SYNTHETIC)


def _most(rows: list[Row], model: str, broad: bool) -> Row | None:
    """The model's full fine-tune (the paper's method) with the most data, on broad data or on
    NQ-synthetic."""
    candidates = [
        r
        for r in rows
        if r.role == cells.ROLE_IMITATION
        and r.model == model
        and r.adapter == "none"
        and (r.data != NQ_SYNTHETIC) == broad
    ]
    return max(candidates, key=lambda r: r.tokens or 0, default=None)


def _paper(
    entries: list[Published], metric: str, role: str, model: str | None, data: str | None
) -> PaperCell | None:
    return _first([p for p in entries if p.fits(role, model, data, None)], metric)


def _first(entries: list[Published], metric: str) -> PaperCell | None:
    entry = next((p for p in entries if metric in p.metrics), None)
    return None if entry is None else (entry.metrics[metric], entry.source)


def _value(row: Row | None, metric: str) -> float | None:
    return None if row is None else row.metrics.get(metric)


def _label(row: Row) -> str:
    if row.role == cells.ROLE_BASE:
        return f"base {row.model}"
    return f"{row.series} + {budget_label(row)}"


def _header(metric: str) -> str:
    unit = metrics.UNITS.get(metric)
    return f"{metric} ({unit})" if unit else metric


def paper_tables(rows: list[Row], published: Sequence[Published] = ()) -> list[Table]:
    return [table1_nq(rows, published), table2_style(rows, published), gap_closure(rows)]
