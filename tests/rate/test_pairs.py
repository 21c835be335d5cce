"""The pairs reader: items JSONL, the generations table of a run, and errors that say where."""

from __future__ import annotations

import json

import pytest

from imitate.data.report import DataReport
from imitate.rate.pairs import PairsError, pairs_from_run, read_pairs, write_pairs
from tests.rate.conftest import GENERATIONS, make_pairs


def test_reads_items_jsonl(tmp_path) -> None:
    path = write_pairs(tmp_path / "items.jsonl", make_pairs(3))
    assert read_pairs(path) == make_pairs(3)


def test_integer_ids_and_default_run_id(tmp_path) -> None:
    path = tmp_path / "items.jsonl"
    record = {"id": 7, "instruction": "q", "output_model": "", "output_teacher": "t"}
    path.write_text(json.dumps(record) + "\n\n")  # blank lines are not items
    [pair] = read_pairs(path, model_run_id="run-x")
    assert (pair.id, pair.output, pair.model_run_id) == ("7", "", "run-x")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"items.jsonl:2: not valid JSON"),
        ('["a list"]', r"items.jsonl:2: expected a JSON object"),
        ('{"id": "x", "instruction": "q", "output_model": "m"}', r"missing key\(s\) \['output_teacher'\]"),
        ('{"id": "x", "instruction": "q", "output_model": "m", "ouput_teacher": "t", "output_teacher": "t"}',
         r"unknown key\(s\) \['ouput_teacher'\]; valid keys"),
        ('{"id": "x", "instruction": "q", "output_model": 3, "output_teacher": "t"}',
         r"output_model must be a string, got int"),
        ('{"id": " ", "instruction": "q", "output_model": "m", "output_teacher": "t"}', r"id is empty"),
        ('{"id": "item-0", "instruction": "q", "output_model": "m", "output_teacher": "t"}',
         r"item id 'item-0' appears more than once"),
    ],
)  # fmt: skip
def test_bad_lines_are_named(tmp_path, line, message) -> None:
    path = write_pairs(tmp_path / "items.jsonl", make_pairs(1))
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(PairsError, match=message):
        read_pairs(path)


def test_missing_and_empty_files(tmp_path) -> None:
    with pytest.raises(PairsError, match="not found"):
        read_pairs(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(PairsError, match="holds no items"):
        read_pairs(tmp_path / "empty.jsonl")


def test_reads_a_runs_generations_table(tracking, new_run) -> None:
    client, _ = tracking
    run_id = new_run(GENERATIONS)
    pairs = pairs_from_run(client, run_id)
    assert [(p.id, p.prompt, p.output, p.reference) for p in pairs] == [
        (f"{run_id}:0", "p0", "m0", "t0"),
        (f"{run_id}:1", "p1", "m1", "t1"),
    ]
    assert {p.model_run_id for p in pairs} == {run_id}
    empty_run = new_run()
    with pytest.raises(PairsError, match=f"run {empty_run} has no eval/generations.json"):
        pairs_from_run(client, empty_run)


def test_generations_ids_come_from_the_id_column(tmp_path) -> None:
    path = tmp_path / "generations.json"
    columns = ["id", "prompt", "model_reply", "teacher_reply", "truncated"]
    path.write_text(json.dumps({"columns": columns, "data": [["conv-9", "p", "m", "t", False]]}))
    [pair] = read_pairs(path, model_run_id="run-x")
    assert (pair.id, pair.model_run_id) == ("run-x:conv-9", "run-x")


def generations_file(tmp_path, truncated: list) -> str:
    path = tmp_path / "generations.json"
    columns = ["id", "prompt", "model_reply", "teacher_reply", "truncated"]
    data = [[str(i), f"p{i}", f"m{i}", f"t{i}", cut] for i, cut in enumerate(truncated)]
    path.write_text(json.dumps({"columns": columns, "data": data}))
    return str(path)


def test_truncated_model_replies_are_left_out_and_counted(tmp_path) -> None:
    report = DataReport()
    pairs = read_pairs(generations_file(tmp_path, [False, True, None, True]), "run-x", report)
    assert [p.id for p in pairs] == ["run-x:0", "run-x:2"]  # the unknown one is kept ...
    assert report.counts == {"dropped_model_reply_truncated": 2, "model_reply_truncation_unknown": 1}  # fmt: skip
    with pytest.raises(PairsError, match=r"all 2 model replies were cut .*max_new_tokens"):
        read_pairs(generations_file(tmp_path, [True, True]))


def test_a_table_from_before_the_style_task_is_refused(tmp_path) -> None:
    # eval/generations.json as training logged it before: no `truncated`, 48-token replies
    path = tmp_path / "generations.json"
    columns = ["id", "prompt", "model_reply", "teacher_reply"]
    path.write_text(json.dumps({"columns": columns, "data": [["c1", "last turn", "cut", "t"]]}))
    with pytest.raises(
        PairsError, match=r"without the 'truncated' column.*which side is the model"
    ):
        read_pairs(path)


def test_generations_table_errors(tmp_path) -> None:
    path = tmp_path / "generations.json"
    path.write_text(json.dumps({"columns": ["prompt", "model_reply"], "data": [["p", "m"]]}))
    with pytest.raises(PairsError, match=r"lacks column\(s\) \['teacher_reply'\]"):
        read_pairs(path)
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(PairsError, match="expected an MLflow table"):
        read_pairs(path)
