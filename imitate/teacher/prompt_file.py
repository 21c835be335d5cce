"""A user's prompt file (JSONL or CSV) read through a field map, with every bad row named.

Rows are numbered in file order from 0, bad rows included, so row r is the same row on every run.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from imitate.data.jsonl import read_jsonl
from imitate.data.paths import resolve_data_path

FORMATS = ("auto", "jsonl", "csv")
PROMPTS_KEY = "generate.prompts (a .jsonl or .csv file of prompts)"

# Bad-row reasons: counted in the collect manifest, never fatal.
UNREADABLE_JSON_LINE = "unreadable_json_line"
NOT_AN_OBJECT = "not_an_object"
MISSING_PROMPT_FIELD = "missing_prompt_field"
PROMPT_NOT_TEXT = "prompt_not_text"
EMPTY_PROMPT = "empty_prompt"
MISSING_ID_FIELD = "missing_id_field"
DUPLICATE_ID = "duplicate_id"
_UNREADABLE = object()  # a JSONL line that is not JSON


@dataclass(frozen=True)
class FieldMap:
    """Which field holds the prompt, and optionally a system prompt and an id."""

    prompt: str = "prompt"
    system: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class PromptRow:
    """Row `row` of the file: its prompt and system text, or the reason it is bad."""

    row: int
    where: str
    id: str
    prompt: str = ""
    system: str | None = None
    problem: str | None = None


def read_prompt_rows(
    path: str | Path, fields: FieldMap, file_format: str = "auto"
) -> list[PromptRow]:
    """Every row of the file; an id seen before makes a later row a `duplicate_id` bad row."""
    file = resolve_data_path(path, what=PROMPTS_KEY)
    file_format = _resolve_format(file, file_format)
    raw = _csv_rows(file, fields) if file_format == "csv" else _jsonl_rows(file)
    rows, seen_ids = [], set()
    for row, (where, record) in enumerate(raw):
        parsed = _parse(row, where, record, fields, f"{file.stem}-{row}")
        if parsed.problem is None and parsed.id in seen_ids:
            parsed = PromptRow(row, where, parsed.id, problem=DUPLICATE_ID)
        elif parsed.problem is None:
            seen_ids.add(parsed.id)
        rows.append(parsed)
    return rows


def _resolve_format(file: Path, file_format: str) -> str:
    if file_format not in FORMATS:
        raise ValueError(f"generate.file_format={file_format!r}; valid: {', '.join(FORMATS)}")
    if file_format != "auto":
        return file_format
    if file.suffix.lower() in (".jsonl", ".csv"):
        return file.suffix.lower()[1:]
    raise ValueError(
        f"generate.prompts={str(file)!r}: cannot tell the format from the suffix; name it .jsonl "
        "or .csv, or set generate.file_format=jsonl|csv"
    )


def _jsonl_rows(file: Path):
    """(where, record) per non-blank line; a line that is not JSON comes in its place as _UNREADABLE."""
    unreadable: list[str] = []
    for number, record in read_jsonl(file, on_bad_line=lambda where, _: unreadable.append(where)):
        yield from ((where, _UNREADABLE) for where in unreadable)  # bad lines before this one
        unreadable.clear()
        yield f"{file.name}:{number}", record
    yield from ((where, _UNREADABLE) for where in unreadable)


def _csv_rows(file: Path, fields: FieldMap):
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        wanted = [f for f in (fields.prompt, fields.system, fields.id) if f is not None]
        missing = [f for f in wanted if f not in columns]
        if missing:
            raise ValueError(
                f"generate.prompts={str(file)!r}: no column {missing} (generate.fields); the "
                f"header has {columns}"
            )
        for record in reader:
            yield f"{file.name}:{reader.line_num}", record


def _parse(row: int, where: str, record: object, fields: FieldMap, default_id: str) -> PromptRow:
    if record is _UNREADABLE:
        return PromptRow(row, where, default_id, problem=UNREADABLE_JSON_LINE)
    if not isinstance(record, Mapping):
        return PromptRow(row, where, default_id, problem=NOT_AN_OBJECT)
    record_id = default_id
    if fields.id is not None:
        value = record.get(fields.id)
        if value is None or str(value).strip() == "":
            return PromptRow(row, where, default_id, problem=MISSING_ID_FIELD)
        record_id = str(value)
    if fields.prompt not in record or record[fields.prompt] is None:
        return PromptRow(row, where, record_id, problem=MISSING_PROMPT_FIELD)
    prompt = record[fields.prompt]
    if not isinstance(prompt, str):
        return PromptRow(row, where, record_id, problem=PROMPT_NOT_TEXT)
    if not prompt.strip():
        return PromptRow(row, where, record_id, problem=EMPTY_PROMPT)
    system = record.get(fields.system) if fields.system else None
    system = system if isinstance(system, str) and system.strip() else None
    return PromptRow(row, where, record_id, prompt, system)
