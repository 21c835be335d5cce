"""Source formats: ShareGPT, HC3, and generic JSONL with a field map, all read into ShareGPT's shape.

Every format yields ``(where, {"id", "conversations": [{"from", "value"}]})`` so one normaliser
(:mod:`imitate.data.conversations`) maps roles and counts skips for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imitate.data.paths import resolve_data_path
from imitate.data.report import DataReport
from imitate.data.sources import jsonl_records, read_records

FORMATS = ("sharegpt", "hc3", "fields")


@dataclass
class FieldMap:
    """Where a generic JSONL record keeps its text: single-turn (prompt/response) or multi-turn (messages)."""

    prompt: str | None = "prompt"
    response: str | None = "response"
    system: str | None = None
    messages: str | None = None  # a list of turns; when set, prompt/response are not read
    role: str = "role"
    content: str = "content"
    id: str | None = "id"


@dataclass
class SourceConfig:
    """One imitation source in ``data.sources.<name>``."""

    path: str = "package"
    format: str = "sharegpt"
    split: str = "train"  # for HF datasets ids
    weight: float | None = None  # share of the mixture relative to other sources; None: by size
    max_conversations: int | None = None  # cap, taken from the source's seeded order
    fields: FieldMap = field(default_factory=FieldMap)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r}; valid: {', '.join(FORMATS)}")
        if isinstance(self.fields, Mapping):  # a dict, or the DictConfig a config node gives
            self.fields = FieldMap(**self.fields)
        if self.weight is not None:
            given = self.weight
            try:
                self.weight = float(given)
            except (TypeError, ValueError):
                self.weight = -1.0  # reported just below, with what would be valid
            if not self.weight > 0:
                raise ValueError(
                    f"weight must be a number above 0 (or null: by size), got {given!r}"
                )


def read_source(source: SourceConfig, report: DataReport) -> Iterator[tuple[str, Any]]:
    """ShareGPT-shaped raw records of one source, whatever its format."""
    if source.format == "sharegpt":
        yield from read_records(source.path, report, source.split)
    elif source.format == "hc3":
        for path in _jsonl_files(source.path):
            for where, record in jsonl_records(path, report):
                converted = _from_hc3(record, where, report)
                if converted is not None:
                    yield where, converted
    else:
        for where, record in read_records(source.path, report, source.split):
            converted = _from_fields(record, source.fields, where, report)
            if converted is not None:
                yield where, converted


def _jsonl_files(path: str) -> list[Path]:
    folder = resolve_data_path(path, what="HC3 source")
    if folder.is_file():
        return [folder]
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(
            f"HC3 source {path!r}: expected a .jsonl file or a folder of them (e.g. ../shared/data/hc3)"
        )
    return files


def _from_hc3(record: Any, where: str, report: DataReport) -> dict | None:
    """HC3: a question with human and ChatGPT answers; the first ChatGPT answer is the teacher reply."""
    if not isinstance(record, dict) or not isinstance(record.get("question"), str):
        report.skip(
            "missing_field",
            where,
            "HC3 records need 'question' (text) and 'chatgpt_answers' (list)",
        )
        return None
    answers = [a for a in record.get("chatgpt_answers") or [] if isinstance(a, str) and a.strip()]
    if not answers:
        report.skip("no_teacher_answer", where, "empty 'chatgpt_answers'")
        return None
    turns = [{"from": "human", "value": record["question"]}, {"from": "gpt", "value": answers[0]}]
    return {"id": record.get("id", where), "conversations": turns}


def _from_fields(record: Any, fields: FieldMap, where: str, report: DataReport) -> dict | None:
    if not isinstance(record, dict):
        report.skip("malformed_record", where, f"expected an object, got {type(record).__name__}")
        return None
    if fields.messages is not None:
        turns = _mapped_turns(record, fields, where, report)
    else:
        turns = _single_turn(record, fields, where, report)
    if turns is None:
        return None
    return {"id": record.get(fields.id, where) if fields.id else where, "conversations": turns}


def _mapped_turns(
    record: dict, fields: FieldMap, where: str, report: DataReport
) -> list[dict] | None:
    messages = record.get(fields.messages)
    if not isinstance(messages, list):
        report.skip(
            "missing_field",
            where,
            f"no list under '{fields.messages}' (data.sources.*.fields.messages)",
        )
        return None
    turns = []
    for message in messages:
        if (
            not isinstance(message, dict)
            or fields.role not in message
            or fields.content not in message
        ):
            report.skip(
                "missing_field", where, f"a turn lacks '{fields.role}' or '{fields.content}'"
            )
            return None
        turns.append({"from": message[fields.role], "value": message[fields.content]})
    return turns


def _single_turn(
    record: dict, fields: FieldMap, where: str, report: DataReport
) -> list[dict] | None:
    missing = [key for key in (fields.prompt, fields.response) if key is None or key not in record]
    if missing:
        report.skip(
            "missing_field", where, f"missing {missing} (data.sources.*.fields.prompt/response)"
        )
        return None
    turns = [
        {"from": "human", "value": record[fields.prompt]},
        {"from": "gpt", "value": record[fields.response]},
    ]
    if fields.system and record.get(fields.system):
        turns.insert(0, {"from": "system", "value": record[fields.system]})
    return turns
