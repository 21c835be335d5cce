"""The pairs to rate: one reader for a JSONL of items and for the generations table an imitate run logs.

A pairs file is JSON Lines, one object per line::

    {"id": "koala-17", "instruction": "...", "output_model": "...", "output_teacher": "...",
     "model_run_id": "<optional MLflow run id of the imitation model>"}

``id`` is a non-empty string (or an integer, read as its decimal string), unique in the file;
``instruction`` is non-empty; both outputs are strings (an empty output is a real answer to rate).
Unknown keys are an error, so a typo (``ouput_model``) never passes as a missing field.

The generations table (``eval/generations.json``, MLflow's ``{"columns": [...], "data": [...]}``
with ``prompt`` / ``model_reply`` / ``teacher_reply``) is read by :func:`pairs_from_run` straight
from a run, or by :func:`read_pairs` from a downloaded file; its items are ``<run id>:<id>`` (the
table's ``id`` column where it has one, else the row number).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from imitate.data.jsonl import read_jsonl
from imitate.eval.generations import GENERATIONS_ARTIFACT, read_table

REQUIRED = ("id", "instruction", "output_model", "output_teacher")
OPTIONAL = ("model_run_id",)
GENERATION_COLUMNS = {
    "prompt": "instruction",
    "model_reply": "output_model",
    "teacher_reply": "output_teacher",
}


@dataclass(frozen=True)
class Pair:
    id: str
    instruction: str
    output_model: str
    output_teacher: str
    model_run_id: str | None = None


class PairsError(ValueError):
    """A pairs file that cannot be read: the message names the file, the line and the field."""


def read_pairs(path: str | Path, model_run_id: str | None = None) -> list[Pair]:
    """Pairs from a ``.jsonl`` items file or a ``.json`` generations table (ids must be unique)."""
    path = Path(path)
    if not path.is_file():
        raise PairsError(f"pairs file {path} not found (a .jsonl of items or a generations .json)")
    if path.suffix == ".json":
        pairs = _from_generations(path, model_run_id)
    else:
        records = read_jsonl(path, on_bad_line=_refuse_bad_line)
        pairs = [_pair(path, n, record, model_run_id) for n, record in records]
    _check_unique(path, pairs)
    if not pairs:
        raise PairsError(f"pairs file {path} holds no items")
    return pairs


def pairs_from_run(client, run_id: str) -> list[Pair]:
    """The generations table an imitate run logged, each pair tagged with that run's id."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = client.download_artifacts(run_id, GENERATIONS_ARTIFACT, folder)
        except Exception as error:  # MLflow raises several types for a missing run or file
            raise PairsError(
                f"run {run_id} has no {GENERATIONS_ARTIFACT} artifact to rate ({error}); "
                "the style eval task logs it (training runs do by default: eval=heldout)"
            ) from error
        return read_pairs(local, model_run_id=run_id)


def _refuse_bad_line(where: str, message: str) -> None:
    raise PairsError(f"{where}: not valid JSON ({message})")


def _pair(path: Path, number: int, record: object, default_run_id: str | None) -> Pair:
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
    return Pair(model_run_id=run_id or None, **fields)


def _from_generations(path: Path, run_id: str | None) -> list[Pair]:
    try:
        rows = read_table(path)
    except ValueError as error:  # names the file and the columns a table needs
        raise PairsError(str(error)) from error
    prefix = run_id or path.stem
    pairs = []
    for row_number, cells in enumerate(rows):
        fields = {field: cells[column] for column, field in GENERATION_COLUMNS.items()}
        if not all(isinstance(value, str) for value in fields.values()):
            raise PairsError(f"{path}: row {row_number}: prompt and replies must be strings")
        pairs.append(Pair(id=f"{prefix}:{cells['id']}", model_run_id=run_id, **fields))
    return pairs


def _check_unique(path: Path, pairs: list[Pair]) -> None:
    seen: set[str] = set()
    for pair in pairs:
        if pair.id in seen:
            raise PairsError(
                f"{path}: item id {pair.id!r} appears more than once; ids must be unique"
            )
        seen.add(pair.id)
