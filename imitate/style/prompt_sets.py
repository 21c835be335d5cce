"""Held-out prompt sets with teacher replies: one reader per file format, joined by id or prompt text.

A prompt set config (``conf/prompts/*.yaml``) names a ``prompts`` source and, optionally, a
``reference`` and a ``second_reference`` source (the teacher's reply, and an independent second
teacher reply for Table 2's "ChatGPT #2" bound). Each source is ``{format, path, dataset, match}``:
``format`` picks the reader (``READERS``), ``dataset`` keeps only AlpacaEval records of that
subset, ``match`` joins a reply source to the prompts by ``id`` or by ``text`` (the prompt with
whitespace runs collapsed). Prompts with no reference are dropped and counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from imitate.data.conversations import ASSISTANT, USER, normalise_all
from imitate.data.jsonl import read_jsonl
from imitate.data.paths import resolve_data_path
from imitate.data.report import DataReport
from imitate.data.sources import read_records
from imitate.eval.generations import read_table

MATCH_KEYS = ("id", "text")
# ``prompts.format`` of conf/prompts/heldout.yaml: the training run's own held-out split, which
# training hands to the eval tasks (``run_tasks(heldout=...)``); no file to read.
RUN_HELDOUT = "run_heldout"


@dataclass(frozen=True)
class Record:
    """What a reader yields: a prompt and/or a reply, under the file's own id."""

    id: str
    prompt: str | None
    reply: str | None = None
    category: str = ""


@dataclass(frozen=True)
class PromptItem:
    """One held-out prompt with the teacher's reply (and a second teacher reply when known)."""

    id: str
    prompt: str
    reference: str
    second_reference: str | None = None
    category: str = ""


def normalise_text(text: str) -> str:
    """The join key for ``match: text``: whitespace runs collapsed, ends stripped."""
    return " ".join(text.split())


def _json_lines(path: Path) -> list[dict]:
    return [value for _, value in read_jsonl(path)]  # a bad line raises with path:line


def _field(row: Mapping, key: str, path: Path, where: object) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise ValueError(
            f"{path} record {where}: expected a string field {key!r}, got keys {sorted(row)}"
        )
    return value


def read_koala(path: Path, report: DataReport | None = None) -> list[Record]:
    """Koala test set JSONL: ``{"id", "prompt"}``."""
    return [Record(str(r.get("id", i)), _field(r, "prompt", path, i)) for i, r in enumerate(_json_lines(path))]  # fmt: skip


def read_fastchat_questions(path: Path, report: DataReport | None = None) -> list[Record]:
    """FastChat (2023) ``question.jsonl``: ``{"question_id", "text", "category"}``."""
    return [
        Record(str(r["question_id"]), _field(r, "text", path, i), category=r.get("category", ""))
        for i, r in enumerate(_json_lines(path))
    ]


def read_fastchat_answers(path: Path, report: DataReport | None = None) -> list[Record]:
    """FastChat (2023) ``answer_<model>.jsonl``: ``{"question_id", "text"}``, the text a reply."""
    return [
        Record(str(r["question_id"]), None, _field(r, "text", path, i))
        for i, r in enumerate(_json_lines(path))
    ]


def read_alpaca_eval(path: Path, report: DataReport | None = None) -> list[Record]:
    """AlpacaEval ``model_outputs.json``: a JSON array of ``{"instruction", "output", "dataset"}``."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        Record(
            f"{r.get('dataset', 'alpaca_eval')}_{i}",
            _field(r, "instruction", path, i),
            _field(r, "output", path, i),
            category=r.get("dataset", ""),
        )
        for i, r in enumerate(rows)
    ]


def read_outputs(path: Path, report: DataReport | None = None) -> list[Record]:
    """A model's outputs as JSONL: ``{"id", "prompt" (or "instruction"), "output"}``."""
    records = []
    for i, r in enumerate(_json_lines(path)):
        prompt = r.get("prompt", r.get("instruction"))
        records.append(Record(str(r.get("id", i)), prompt, _field(r, "output", path, i)))
    return records


def read_sharegpt(path: Path, report: DataReport | None = None) -> list[Record]:
    """ShareGPT conversations (JSON/JSONL): the first user turn and the assistant reply to it.

    Malformed records and conversations are skipped and counted in ``report``, as for training data.
    """
    report = report if report is not None else DataReport()
    records = []
    for conversation in normalise_all(read_records(str(path), report), "heldout", report):
        turns = conversation["turns"]
        for first, second in zip(turns, turns[1:], strict=False):
            if first["role"] == USER and second["role"] == ASSISTANT:
                records.append(Record(conversation["id"], first["content"], second["content"]))
                break
    return records


def read_generations(path: Path, report: DataReport | None = None) -> list[Record]:
    """A run's generations table (``imitate.eval.generations``): the prompt and the teacher's reply."""
    return [Record(str(r["id"]), r["prompt"], r["teacher_reply"]) for r in read_table(path)]


def read_generation_outputs(path: Path, report: DataReport | None = None) -> list[Record]:
    """The same table's model replies: the candidate's outputs."""
    return [Record(str(r["id"]), r["prompt"], r["model_reply"]) for r in read_table(path)]


def heldout_items(heldout: list[dict], report: DataReport | None = None) -> list[PromptItem]:
    """A training run's held-out split (``datamodule.heldout``) as single-turn prompts.

    Each item is the user turn the first teacher reply answers, with that reply; an item with no
    user turn is dropped and counted.
    """
    report = report if report is not None else DataReport()
    items = []
    for item in heldout:
        users = [t["content"] for t in item["prompt_turns"] if t["role"] == USER]
        if not users:
            report.drop("no_user_turn")
            continue
        items.append(PromptItem(str(item["id"]), users[-1], item["reference"]))
    return items


READERS: dict[str, Callable[[Path, DataReport], list[Record]]] = {
    "koala": read_koala,
    "fastchat_questions": read_fastchat_questions,
    "fastchat_answers": read_fastchat_answers,
    "alpaca_eval": read_alpaca_eval,
    "outputs": read_outputs,
    "sharegpt": read_sharegpt,
    "generations": read_generations,
}
OUTPUT_READERS = {"outputs": read_outputs, "generations": read_generation_outputs}


def read_source(spec: Mapping, what: str, report: DataReport) -> list[Record]:
    """The records of one ``{format, path, dataset}`` source."""
    reader = READERS.get(str(spec.get("format")))
    if spec.get("format") == RUN_HELDOUT:
        raise ValueError(
            f"{what}.format={RUN_HELDOUT}: the held-out split of a training run, which only "
            "`python -m imitate` has; elsewhere choose a prompt set with files (prompts=vicuna80)"
        )
    if reader is None:
        raise ValueError(
            f"{what}.format={spec.get('format')!r}; valid formats: {', '.join(sorted(READERS))}"
        )
    records = reader(resolve_data_path(spec["path"], what=f"{what}.path"), report)
    if spec.get("dataset"):
        records = [r for r in records if r.category == spec["dataset"]]
        if not records:
            raise ValueError(
                f"{what}: no records with dataset={spec['dataset']!r} in {spec['path']}"
            )
    return records


def reply_lookup(records: list[Record], match: str, what: str) -> dict[str, str]:
    """``{join key: reply}`` for a reply source; a key given twice is an error, not a guess."""
    if match not in MATCH_KEYS:
        raise ValueError(f"{what}.match={match!r}; valid: {', '.join(MATCH_KEYS)}")
    lookup: dict[str, str] = {}
    for record in records:
        key = record.id if match == "id" else normalise_text(record.prompt or "")
        if key in lookup:
            raise ValueError(f"{what}: two records share the {match} {key[:80]!r}")
        if record.reply is not None:
            lookup[key] = record.reply
    return lookup


def join_key(record: Record, match: str) -> str:
    return record.id if match == "id" else normalise_text(record.prompt or "")


def build_prompt_set(cfg: Mapping, report: DataReport) -> list[PromptItem]:
    """The prompt set of a ``conf/prompts`` config: prompts joined to their teacher replies."""
    name = cfg.get("name", "prompts")
    prompts = read_source(cfg["prompts"], f"{name}.prompts", report)
    replies = {}
    for role in ("reference", "second_reference"):
        spec = cfg.get(role)
        if spec:
            match = spec.get("match", "id")
            lookup = reply_lookup(
                read_source(spec, f"{name}.{role}", report), match, f"{name}.{role}"
            )
            replies[role] = (match, lookup)
    items = []
    for record in prompts:
        reference = _reply(record, replies.get("reference"))
        if reference is None:
            report.drop("no_reference")
            continue
        second = (
            _reply(record, replies.get("second_reference"))
            if "second_reference" in replies
            else None
        )
        if "second_reference" in replies and second is None:
            report.count("no_second_reference")
        items.append(PromptItem(record.id, record.prompt or "", reference, second, record.category))
    report.count("prompts", len(items))
    return items


def _reply(record: Record, source: tuple[str, dict] | None) -> str | None:
    if source is None:
        return record.reply  # the prompts file carries the teacher's reply itself
    match, lookup = source
    return lookup.get(join_key(record, match))
