"""The resumable output: commits, cut-back after a kill, refusals with the reason named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imitate.teacher.store import ResumableOutput


def reopen(output: Path, settings: dict) -> ResumableOutput:
    """Open and close again: what a rerun does first."""
    with ResumableOutput(output, settings) as store:
        return store


def test_lines_past_the_last_commit_are_cut_when_reopened(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResumableOutput(out, {"a": 1}) as store:
        assert store.earlier is None
        store.append([{"n": 0}, {"n": 1}])
        store.commit({"progress": 2})
        store.append([{"n": 2}])  # appended, never committed: a kill came first
    with out.open("a") as torn:
        torn.write('{"n": 3, "cut of')
    with ResumableOutput(out, {"a": 1}) as store:
        assert store.earlier["progress"] == 2 and store.records() == [{"n": 0}, {"n": 1}]
        assert store.written == 2
    assert out.read_text() == '{"n": 0}\n{"n": 1}\n'


def test_other_settings_a_hand_edited_file_and_a_foreign_file_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResumableOutput(out, {"a": 1}) as store:
        store.append([{"n": 0}, {"n": 1}])
        store.commit({})
    with pytest.raises(ValueError, match="a: was 1, now 2"):
        reopen(out, {"a": 2})
    assert reopen(out, {"a": 1}).written == 2  # a refusal does not keep the output locked
    out.write_text('{"n": 0}\n')
    with pytest.raises(ValueError, match="holds 1 complete lines but its manifest"):
        reopen(out, {"a": 1})
    foreign = tmp_path / "mine.jsonl"
    foreign.write_text("{}\n")
    with pytest.raises(FileExistsError, match="has no manifest mine.manifest.json"):
        reopen(foreign, {})
    assert json.loads((tmp_path / "out.manifest.json").read_text())["written"] == 2


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    with ResumableOutput(out, {}), pytest.raises(RuntimeError, match="another run is writing"):
        reopen(out, {})
    assert reopen(out, {}).earlier is None  # released when the first one closed
