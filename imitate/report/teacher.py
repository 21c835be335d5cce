"""Where each of the teacher row's numbers comes from: a measured evaluate run, or the reference file."""

from __future__ import annotations

from imitate.report.collect import MEASURED, REFERENCE, Row
from imitate.report.figures import teacher_for
from imitate.tracking import cells

HOW_TO_MEASURE = "python -m imitate.evaluate llm=<teacher> eval=paper role=teacher"


def source_of(row: Row | None, metric: str) -> str | None:
    """ "measured: run <id>, <llm>" or "reference: <name> (...)" for a teacher number, else None."""
    if row is None or not row.source or metric not in row.metrics:
        return None
    if row.source == MEASURED:
        return f"{MEASURED}: run {row.run_id}, {row.model}"
    return f"{row.source}: {row.model} (conf/reference, run {row.run_id})"


def teacher_provenance(rows: list[Row]) -> dict[str, dict]:
    """``{metric: {"value", "source"}}`` for every metric some teacher row has, as the report uses it."""
    names = sorted({m for r in rows if r.role == cells.ROLE_TEACHER for m in r.metrics})
    chosen = {name: teacher_for(rows, name) for name in names}
    return {
        name: {"value": row.metrics[name], "source": source_of(row, name)}
        for name, row in chosen.items()
        if row is not None
    }


def teacher_note(rows: list[Row]) -> str:
    """One paragraph for the page: which run measured which metrics, which are the reference's."""
    by_source: dict[str, list[str]] = {}
    for name, entry in teacher_provenance(rows).items():
        by_source.setdefault(entry["source"] or "?", []).append(name)
    parts = [f"{source} for {', '.join(names)}" for source, names in sorted(by_source.items())]
    if not any(r.source == MEASURED for r in rows):
        parts.append(
            f"no FINISHED `{HOW_TO_MEASURE}` run in this experiment: the teacher's numbers are "
            f"the {REFERENCE}'s"
        )
    return "Teacher row: " + "; ".join(parts) + "."
