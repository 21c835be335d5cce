"""Collect: a prompt file (JSONL or CSV, field map) through the teacher into ShareGPT conversations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from imitate.data.conversations import normalise_all
from imitate.data.report import DataReport
from imitate.data.source_formats import SourceConfig, read_source
from imitate.teacher import prompt_file
from imitate.teacher.collect import EMPTY_REPLY, CollectJob
from tests.conftest import REPO, compose_config
from tests.support.teacher_jobs import jsonl_job
from tests.teacher.scripted import ScriptedLLM

FIXTURES = REPO / "tests" / "fixtures" / "teacher"


def echo(request) -> str:
    """A reply that shows what the teacher was sent."""
    return " | ".join(f"{m['role']}={m['content']}" for m in request.messages)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_with_a_field_map_and_every_bad_row_counted(tmp_path: Path) -> None:
    llm = ScriptedLLM(reply=echo)
    manifest = jsonl_job(tmp_path / "out.jsonl", system_prompt="Be kind.").run(llm)
    records = lines(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["a1", "a2", "a6"]
    assert records[0]["conversations"] == [
        {"from": "system", "value": "You are terse."},
        {"from": "human", "value": "Explain photosynthesis in one sentence."},
        {
            "from": "gpt",
            "value": "system=You are terse. | user=Explain photosynthesis in one sentence.",
        },
    ]
    assert records[1]["conversations"][0] == {"from": "system", "value": "Be kind."}
    counts = manifest["counts"]
    assert counts["by_reason"] == {
        prompt_file.EMPTY_PROMPT: 1,
        prompt_file.MISSING_PROMPT_FIELD: 1,
        prompt_file.UNREADABLE_JSON_LINE: 1,
        prompt_file.DUPLICATE_ID: 1,
        prompt_file.PROMPT_NOT_TEXT: 1,
        prompt_file.MISSING_ID_FIELD: 1,
    }
    assert (
        counts["rows"]
        == 9
        == counts["conversations"] + counts["bad_rows"] + counts["empty_replies"]
    )
    assert manifest["rows_done"] == 9 and manifest["stopped"] == "done"
    assert len(llm.calls) == 3 and max(llm.batches) <= 2  # only good rows are sent, in chunks


def test_csv_with_a_field_map_and_an_empty_reply(tmp_path: Path) -> None:
    llm = ScriptedLLM(reply=lambda r: "" if "Hamlet" in r.messages[-1]["content"] else "fine")
    manifest = CollectJob(
        prompts=str(FIXTURES / "prompts.csv"),
        output=str(tmp_path / "out.jsonl"),
        fields={"prompt": "question", "system": "system", "id": "id"},
    ).run(llm)
    records = lines(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["q1", "q2"]
    assert records[0]["conversations"][0] == {"from": "system", "value": "Answer with a number."}
    assert records[1]["conversations"][0] == {"from": "human", "value": "Write a haiku, about rain"}
    assert manifest["counts"]["by_reason"] == {prompt_file.EMPTY_PROMPT: 1, EMPTY_REPLY: 1}
    assert llm.batches == [3]


def test_a_csv_without_the_mapped_column_is_refused_naming_the_header(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no column \['prompt'\].*'question'"):
        CollectJob(prompts=str(FIXTURES / "prompts.csv"), output=str(tmp_path / "o.jsonl"))


def test_a_rerun_sends_only_rows_not_yet_committed(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    reference = jsonl_job(tmp_path / "reference.jsonl").run(ScriptedLLM(reply=echo))

    class DiesOnSecondChunk(ScriptedLLM):
        def generate(self, requests):
            if self.batches:
                raise ConnectionError("endpoint down")
            return super().generate(requests)

    with pytest.raises(ConnectionError):
        jsonl_job(out).run(DiesOnSecondChunk(reply=echo))
    assert (
        json.loads((tmp_path / "out.manifest.json").read_text())["rows_done"] == 8
    )  # chunks of bad rows send nothing
    with out.open("a") as torn:
        torn.write('{"id": "a6", "conver')
    llm = ScriptedLLM(reply=echo)
    final = jsonl_job(out).run(llm)
    assert out.read_text() == (tmp_path / "reference.jsonl").read_text()
    assert [c.messages[-1]["content"] for c in llm.calls] == [
        "What is the boiling point of water at sea level?"
    ]
    assert final["counts"] == reference["counts"] and final["runs"] == 2


def test_a_changed_prompt_file_refuses_to_continue(tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "hi"}\n')
    CollectJob(prompts=str(prompts), output=str(tmp_path / "o.jsonl")).run(ScriptedLLM(reply=echo))
    prompts.write_text('{"prompt": "hi"}\n{"prompt": "more"}\n')
    with pytest.raises(ValueError, match="prompts_sha256"):
        CollectJob(prompts=str(prompts), output=str(tmp_path / "o.jsonl")).run(ScriptedLLM())


def test_the_output_is_a_sharegpt_source_for_the_data_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "collected.jsonl"
    jsonl_job(out).run(ScriptedLLM(reply=echo))
    cfg = compose_config([f"data.sources.sharegpt.path={out}"])
    source = SourceConfig(**OmegaConf.to_container(cfg.data.sources.sharegpt, resolve=True))
    report = DataReport()
    conversations = list(normalise_all(read_source(source, report), "collected", report))
    assert [c["id"] for c in conversations] == ["a1", "a2", "a6"]
    assert [t["role"] for t in conversations[0]["turns"]] == ["system", "user", "assistant"]
    assert not any(key.startswith("skipped") for key in report.counts)
