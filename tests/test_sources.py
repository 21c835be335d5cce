"""Reading ShareGPT records: truncated-JSON recovery, JSONL line errors, role normalisation, counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imitate.data.conversations import normalise_all
from imitate.data.report import DataReport
from imitate.data.sources import read_records

FIXTURES = Path(__file__).parent / "fixtures"


def load(path: str) -> tuple[list[dict], DataReport]:
    report = DataReport()
    return list(normalise_all(read_records(path, report), "sharegpt", report)), report


def test_truncated_json_recovers_every_complete_record() -> None:
    conversations, report = load(str(FIXTURES / "truncated_sharegpt.json"))
    assert report.counts["recovered_from_truncated_json"] == 5
    assert report.counts["dropped_truncated_tail_record"] == 1
    assert [c["id"] for c in conversations] == ["a", "b", "c"]


def test_roles_are_normalised_and_drops_counted() -> None:
    conversations, report = load(str(FIXTURES / "truncated_sharegpt.json"))
    b = conversations[1]
    assert [t["role"] for t in b["turns"]] == ["user", "assistant"]  # blank third turn dropped
    assert [t["role"] for t in conversations[2]["turns"]] == ["system", "user", "assistant"]
    assert report.counts["dropped_empty_turns"] == 1
    assert report.counts["skipped_other_model"] == 1  # 'bing' turn: not the teacher
    assert report.counts["skipped_no_assistant_turn"] == 1
    assert report.counts["conversations_kept"] == 3


def test_jsonl_bad_lines_are_counted_with_their_place(caplog) -> None:
    conversations, report = load(str(FIXTURES / "sharegpt_lines.jsonl"))
    assert [c["id"] for c in conversations] == ["x"]
    assert report.counts["skipped_unreadable_json_line"] == 1
    assert report.counts["skipped_unknown_role"] == 1
    assert report.counts["skipped_malformed_record"] == 1
    assert "sharegpt_lines.jsonl:2" in caplog.text
    assert "'wizard'" in caplog.text and "valid:" in caplog.text


def test_missing_file_names_the_path_and_valid_choices(tmp_path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match="nope.json.*does not exist.*HF datasets id"):
        load(str(missing))


def test_local_dataset_directory_loads_through_hf_datasets(tmp_path) -> None:
    folder = tmp_path / "my_dataset"
    folder.mkdir()
    record = {
        "id": "h",
        "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}],
    }
    (folder / "train.jsonl").write_text(json.dumps(record) + "\n")
    conversations, _ = load(str(folder))
    assert conversations[0]["turns"] == [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A"},
    ]


def test_packaged_sharegpt_recovers_17671_conversations() -> None:
    report = DataReport()
    records = list(read_records("package", report))
    assert len(records) == 17_671
    assert report.counts["recovered_from_truncated_json"] == 17_671
    assert report.counts["dropped_truncated_tail_record"] == 1
