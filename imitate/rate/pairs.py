"""The pairs to rate: one reader for a JSONL of items and for the generations table an imitate run logs.

Both give :class:`~imitate.reply_pair.ReplyPair` records (the model's ``output`` and the teacher's
``reference``); :data:`FILE_KEYS` maps their fields to the file's keys, which are also the ratings
database's item columns.

A pairs file is JSON Lines, one object per line::

    {"id": "koala-17", "instruction": "...", "output_model": "...", "output_teacher": "...",
     "model_run_id": "<optional MLflow run id of the imitation model>"}

``id`` is a non-empty string (or an integer, read as its decimal string), unique in the file;
``instruction`` is non-empty; both outputs are strings (an empty output is a real answer to rate).
Unknown keys are an error, so a typo (``ouput_model``) never passes as a missing field.

The generations table (``eval/generations.json``, ``imitate.style.generations``: the style task's
single-turn prompts with the model's and the teacher's full replies) is read by
:func:`pairs_from_run` straight from a run, or by :func:`read_pairs` from a downloaded file; its
items are ``<run id>:<id>``. A reply cut at the token limit would tell raters which side is the
model, so rows with ``truncated`` true are left out and counted (``dropped_model_reply_truncated``);
rows whose truncation is unknown (an endpoint without a tokenizer) are kept and counted. A table
without the ``truncated`` column predates the style task (the last turn of a multi-turn dialogue
without its context, replies cut at 48 tokens) and is refused.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

from imitate.data.jsonl import read_jsonl
from imitate.data.report import DataReport
from imitate.reply_pair import ReplyPair
from imitate.style.generations import GENERATIONS_ARTIFACT, TRUNCATED, read_table

# Each ReplyPair field's key in a pairs file and column in the ratings database's items table.
FILE_KEYS = {
    "id": "id",
    "prompt": "instruction",
    "output": "output_model",
    "reference": "output_teacher",
    "model_run_id": "model_run_id",
}
REQUIRED = ("id", "instruction", "output_model", "output_teacher")
OPTIONAL = ("model_run_id",)
# Each generations-table column the app reads, and the ReplyPair field it fills.
GENERATION_COLUMNS = {"prompt": "prompt", "model_reply": "output", "teacher_reply": "reference"}


class PairsError(ValueError):
    """A pairs file that cannot be read: the message names the file, the line and the field."""


def read_pairs(
    path: str | Path, model_run_id: str | None = None, report: DataReport | None = None
) -> list[ReplyPair]:
    """Pairs from a ``.jsonl`` items file or a ``.json`` generations table (ids must be unique).

    ``report`` counts the generations rows left out (truncated model replies) and kept unchecked.
    """
    path = Path(path)
    if not path.is_file():
        raise PairsError(f"pairs file {path} not found (a .jsonl of items or a generations .json)")
    if path.suffix == ".json":
        pairs = _from_generations(path, model_run_id, report if report is not None else DataReport())  # fmt: skip
    else:
        records = read_jsonl(path, on_bad_line=_refuse_bad_line)
        pairs = [_pair(path, n, record, model_run_id) for n, record in records]
    _check_unique(path, pairs)
    if not pairs:
        raise PairsError(f"pairs file {path} holds no items")
    return pairs


def pairs_from_run(client, run_id: str, report: DataReport | None = None) -> list[ReplyPair]:
    """The generations table an imitate run logged, each pair tagged with that run's id."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = client.download_artifacts(run_id, GENERATIONS_ARTIFACT, folder)
        except Exception as error:  # MLflow raises several types for a missing run or file
            raise PairsError(
                f"run {run_id} has no {GENERATIONS_ARTIFACT} artifact to rate ({error}); "
                "the style eval task logs it (training runs do by default: eval=heldout)"
            ) from error
        return read_pairs(local, model_run_id=run_id, report=report)


def pair_record(pair: ReplyPair) -> dict[str, str | None]:
    """The pair as a pairs-file object (and an items row): its values under :data:`FILE_KEYS`."""
    return {key: getattr(pair, field) for field, key in FILE_KEYS.items()}


def write_pairs(path: str | Path, pairs: Iterable[ReplyPair]) -> Path:
    """A pairs file that :func:`read_pairs` reads back as ``pairs``."""
    path = Path(path)
    path.write_text("".join(json.dumps(pair_record(pair)) + "\n" for pair in pairs))
    return path


def _refuse_bad_line(where: str, message: str) -> None:
    raise PairsError(f"{where}: not valid JSON ({message})")


def _pair(path: Path, number: int, record: object, default_run_id: str | None) -> ReplyPair:
    where = f"{path}:{number}"
    if not isinstance(record, dict):
        raise PairsError(f"{where}: expected a JSON object with keys {', '.join(REQUIRED)}")
    unknown = sorted(set(record) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise PairsError(
            f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(REQUIRED + OPTIONAL)}"
        )
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise PairsError(f"{where}: missing key(s) {missing}")
    item_id = record["id"]
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    fields = {key: record[key] for key in REQUIRED[1:]} | {"id": item_id}
    for key, value in fields.items():
        if not isinstance(value, str):
            raise PairsError(f"{where}: {key} must be a string, got {type(value).__name__}")
    for key in ("id", "instruction"):
        if not fields[key].strip():
            raise PairsError(f"{where}: {key} is empty")
    run_id = record.get("model_run_id")
    run_id = default_run_id if run_id is None else run_id  # null counts as absent
    if run_id is not None and not isinstance(run_id, str):
        raise PairsError(f"{where}: model_run_id must be a string or absent")
    values = fields | {"model_run_id": run_id or None}
    return ReplyPair(**{field: values[key] for field, key in FILE_KEYS.items()})


def _from_generations(path: Path, run_id: str | None, report: DataReport) -> list[ReplyPair]:
    try:
        rows = read_table(path)
    except ValueError as error:  # names the file and the columns a table needs
        raise PairsError(str(error)) from error
    if rows and TRUNCATED not in rows[0]:
        raise PairsError(
            f"{path}: a generations table without the {TRUNCATED!r} column, from before the style "
            "eval task: it holds the last turn of multi-turn dialogues without their context and "
            "model replies cut at 48 tokens beside the teacher's full ones, which would tell "
            "raters which side is the model. Evaluate the model again (eval=heldout or "
            "eval=paper run the style task) and rate that run"
        )
    prefix = run_id or path.stem
    pairs = []
    for row_number, cells in enumerate(rows):
        fields = {field: cells[column] for column, field in GENERATION_COLUMNS.items()}
        if not all(isinstance(value, str) for value in fields.values()):
            raise PairsError(f"{path}: row {row_number}: prompt and replies must be strings")
        if cells[TRUNCATED]:
            report.drop("model_reply_truncated")
            continue
        if cells[TRUNCATED] is None:
            report.count("model_reply_truncation_unknown")
        pairs.append(ReplyPair(id=f"{prefix}:{cells['id']}", model_run_id=run_id, **fields))
    if rows and not pairs:
        raise PairsError(
            f"{path}: all {len(rows)} model replies were cut at the token limit; nothing fair to "
            "rate. Raise eval.tasks.style.max_new_tokens and evaluate again"
        )
    return pairs


def _check_unique(path: Path, pairs: list[ReplyPair]) -> None:
    seen: set[str] = set()
    for pair in pairs:
        if pair.id in seen:
            raise PairsError(
                f"{path}: item id {pair.id!r} appears more than once; ids must be unique"
            )
        seen.add(pair.id)
