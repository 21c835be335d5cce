"""Leakage filter: a planted near-copy of an eval prompt is caught, a different prompt is kept."""

from __future__ import annotations

import json

import pytest
import sacrebleu

from imitate.data.leakage import (
    EvalPrompt,
    apply_leakage_config,
    filter_leakage,
    find_leaks,
    load_eval_prompts,
)
from imitate.data.report import DataReport

KOALA_2 = "List the layers of the TCP/IP model and for each layer identify one protocol."
NEAR_COPY = "List the layers of the TCP/IP model and for each layer name one protocol please."
DIFFERENT = "Which layers does the OSI model have, and what does the network layer do?"


def conversation(cid: str, *queries: str) -> dict:
    turns = []
    for query in queries:
        turns += [
            {"role": "user", "content": query},
            {"role": "assistant", "content": "An answer."},
        ]
    return {"id": cid, "source": "sharegpt", "turns": turns}


@pytest.fixture
def train() -> list[dict]:
    return [
        conversation("t0", "Write a poem about autumn leaves falling in a quiet park."),
        conversation("t1", "hello", NEAR_COPY),  # the leak sits in a later turn
        conversation("t2", DIFFERENT),
        conversation("t3", "How do I sort a list of dictionaries by a key in Python?"),
    ]


@pytest.fixture
def prompts() -> list[EvalPrompt]:
    return [
        EvalPrompt("koala.jsonl", "koala_2", KOALA_2),
        EvalPrompt(
            "koala.jsonl", "koala_9", "Explain the rules of cricket to an American baseball fan."
        ),
    ]


def test_planted_near_copy_is_caught_and_a_different_prompt_is_not(train, prompts):
    assert (
        sacrebleu.sentence_bleu(KOALA_2, [NEAR_COPY]).score
        > 20
        > sacrebleu.sentence_bleu(KOALA_2, [DIFFERENT]).score
    )
    leaks = find_leaks(prompts, train, bleu_threshold=20)
    assert [(leak.eval_id, leak.train_id) for leak in leaks] == [("koala_2", "t1")]
    assert leaks[0].bleu == pytest.approx(sacrebleu.sentence_bleu(KOALA_2, [NEAR_COPY]).score)
    assert leaks[0].train_text == NEAR_COPY


def test_drop_eval_removes_the_prompt_and_reports_it(train, prompts):
    report = DataReport()
    result = filter_leakage(train, prompts, report, direction="drop_eval", bleu_threshold=20)
    assert [p.id for p in result.eval_prompts] == ["koala_9"]
    assert result.train == train
    assert report.counts["dropped_leaked_eval_prompts"] == 1 and report.counts["leakage_pairs"] == 1
    (record,) = result.removal_records()
    assert record["eval_id"] == "koala_2" and record["train_id"] == "t1" and record["bleu"] > 20


def test_drop_train_removes_the_conversation_instead(train, prompts):
    report = DataReport()
    result = filter_leakage(train, prompts, report, direction="drop_train", bleu_threshold=20)
    assert [c["id"] for c in result.train] == ["t0", "t2", "t3"]
    assert result.eval_prompts == prompts
    assert report.counts["dropped_leaked_train_conversations"] == 1


def test_unknown_direction_lists_the_valid_ones(train, prompts):
    with pytest.raises(ValueError, match=r"direction='both'; valid: drop_eval, drop_train"):
        filter_leakage(train, prompts, DataReport(), direction="both")


def test_prompt_files_in_each_shipped_format(tmp_path):
    (tmp_path / "koala.jsonl").write_text(json.dumps({"id": "k0", "prompt": "A?"}) + "\n\n")
    (tmp_path / "alpaca.json").write_text(
        json.dumps([{"instruction": "B?"}, {"instruction": "C?"}])
    )
    (tmp_path / "mt.jsonl").write_text(
        json.dumps({"question_id": 81, "turns": ["D?", "E?"]}) + "\n"
    )
    prompts = load_eval_prompts(
        [tmp_path / "koala.jsonl", tmp_path / "alpaca.json", tmp_path / "mt.jsonl"]
    )
    assert [(p.id, p.text) for p in prompts] == [
        ("k0", "A?"),
        ("0", "B?"),
        ("1", "C?"),
        ("81#turn0", "D?"),
        ("81#turn1", "E?"),
    ]


def test_bad_prompt_files_are_clear_errors(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"eval_prompt_files: .*missing.jsonl does not exist"
    ):
        load_eval_prompts([tmp_path / "missing.jsonl"])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "ok"}\n{"prompt": \n')
    with pytest.raises(ValueError, match=r"broken.jsonl:2: not valid JSON"):
        load_eval_prompts([broken])
    fieldless = tmp_path / "fieldless.jsonl"
    fieldless.write_text(json.dumps({"query": "x"}) + "\n")
    with pytest.raises(
        ValueError, match=r"record 0: no prompt field; expected one of .*got \['query'\]"
    ):
        load_eval_prompts([fieldless])


@pytest.mark.shared_data
def test_real_eval_sets_load_with_their_counts(shared_data):
    files = {
        "koala/koala_test_set.jsonl": 180,
        "fastchat/vicuna_eval_2023-06/table/question.jsonl": 80,
        "fastchat/llm_judge/data/mt_bench/question.jsonl": 160,
        "alpaca_eval/gpt-3.5-turbo-0301/model_outputs.json": 805,
        "self_instruct/user_oriented_instructions.jsonl": 252,
    }
    for name, count in files.items():
        assert len(load_eval_prompts([shared_data / name])) == count, name


@pytest.mark.shared_data
def test_koala_prompt_planted_in_training_data_is_found(shared_data, train):
    koala = load_eval_prompts([shared_data / "koala/koala_test_set.jsonl"])
    leaks = find_leaks(koala, train, bleu_threshold=20)
    assert {(leak.eval_id, leak.train_id) for leak in leaks} == {("koala_2", "t1")}


def test_config_runs_the_filter_on_the_listed_files(tmp_path, train):
    path = tmp_path / "koala.jsonl"
    path.write_text(json.dumps({"id": "koala_2", "prompt": KOALA_2}) + "\n")
    report = DataReport()
    cfg = {"eval_prompt_files": [str(path)], "direction": "drop_train", "bleu_threshold": 20}
    result = apply_leakage_config(train, cfg, report)
    assert [c["id"] for c in result.train] == ["t0", "t2", "t3"]
    assert report.counts["dropped_leaked_train_conversations"] == 1


def test_config_without_files_changes_nothing(train):
    result = apply_leakage_config(train, {}, DataReport())
    assert result.train == train and result.leaks == []


def test_config_unknown_key_names_the_valid_ones(train):
    with pytest.raises(
        ValueError, match=r"data.leakage: unknown key\(s\) \['threshold'\]; valid keys:"
    ):
        apply_leakage_config(train, {"threshold": 20}, DataReport())
