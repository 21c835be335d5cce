"""A candidate's outputs file joins to the prompt set by id or by whitespace-normalised text."""

from __future__ import annotations

import json

from imitate.data.report import DataReport
from imitate.judge.candidates import candidate_outputs
from imitate.style.prompt_sets import PromptItem

ITEMS = [PromptItem("q1", "Why is the  sky\nblue?", "Rayleigh."), PromptItem("q2", "Hi", "Hello.")]


def test_outputs_join_by_normalised_text_and_the_unmatched_are_counted(tmp_path) -> None:
    outputs = tmp_path / "outputs.jsonl"
    rows = [{"id": "other-1", "prompt": " Why is the sky blue? ", "output": "Scattering."}]
    outputs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    report = DataReport()
    paired = candidate_outputs(ITEMS, {"outputs": str(outputs), "match": "text"}, report)
    assert [(item.id, output) for item, output in paired] == [("q1", "Scattering.")]
    assert report.counts["dropped_no_candidate_output"] == 1


def test_outputs_join_by_id_ignore_the_text(tmp_path) -> None:
    outputs = tmp_path / "outputs.jsonl"
    rows = [{"id": "q2", "prompt": "something else", "output": "Hey."}]
    outputs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    paired = candidate_outputs(ITEMS, {"outputs": str(outputs), "match": "id"}, DataReport())
    assert [(item.id, output) for item, output in paired] == [("q2", "Hey.")]
