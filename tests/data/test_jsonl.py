"""The one JSONL reader: a bad line raises with its place, or is skipped and handed to the caller to count."""

from __future__ import annotations

import gzip
import json

import pytest

from imitate.data.jsonl import load_records, read_jsonl
from imitate.data.leakage import load_eval_prompts
from imitate.data.report import DataReport
from imitate.data.sources import read_records

LINES = '{"a": 1}\n\n{"a": \n[2, 3]\n'  # line 2 blank, line 3 broken


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(LINES)
    return path


def test_a_bad_line_raises_naming_the_file_and_line(broken):
    with pytest.raises(ValueError, match=rf"{broken}:3: not valid JSON"):
        list(read_jsonl(broken))


def test_a_bad_line_is_handed_to_the_caller_then_skipped(broken):
    dropped = []
    values = list(read_jsonl(broken, on_bad_line=lambda where, why: dropped.append((where, why))))
    assert values == [(1, {"a": 1}), (4, [2, 3])]  # line numbers as in the file; blanks not values
    assert [where for where, _ in dropped] == [f"{broken}:3"] and dropped[0][1]


def test_gzipped_files_read_the_same(tmp_path):
    path = tmp_path / "problems.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('{"task_id": "x"}\n')
    assert list(read_jsonl(path)) == [(1, {"task_id": "x"})]


def test_each_caller_states_its_policy(broken):
    # Training sources skip and count; eval sets and prompt files refuse a broken file.
    report = DataReport()
    assert [r for _, r in read_records(str(broken), report)] == [{"a": 1}, [2, 3]]
    assert report.counts["skipped_unreadable_json_line"] == 1
    with pytest.raises(ValueError, match=rf"{broken}:3"):
        load_records(str(broken), what="nq task `data`")
    with pytest.raises(ValueError, match=rf"{broken}:3"):
        load_eval_prompts([broken])


def test_load_records_reads_a_local_file_and_names_every_place_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMITATE_SHARED_DATA", raising=False)
    (tmp_path / "dev.jsonl").write_text(json.dumps({"question": "q"}) + "\n")
    assert load_records("dev.jsonl", what="nq task `data`") == [{"question": "q"}]
    with pytest.raises(FileNotFoundError, match=r"nq task `data`: missing.jsonl does not exist"):
        load_records("missing.jsonl", what="nq task `data`")
