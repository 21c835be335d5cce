"""Prompt sets: one reader per format, joins by id and by text, the paper's filters, all counted."""

from __future__ import annotations

import json

import pytest

from imitate.data.report import DataReport
from imitate.style.prompt_filter import filter_prompts, is_coding_prompt
from imitate.style.prompt_sets import PromptItem, build_prompt_set, read_sharegpt
from tests.conftest import REPO
from tests.support.judging import FIXTURES, vicuna_like


def test_vicuna_layout_joins_by_id_and_by_whitespace_normalised_text() -> None:
    report = DataReport()
    items = build_prompt_set(vicuna_like(), report)
    assert [i.id for i in items] == ["1", "2", "3"]
    assert report.counts["dropped_no_reference"] == 1  # question 4 has no ChatGPT answer
    assert all(i.second_reference for i in items)  # "How can I  sleep" matched despite the spaces
    assert items[0].reference.startswith("Here are some tips")
    assert items[0].second_reference.startswith("To sleep better")
    assert items[2].category == "coding"


def test_koala_layout_counts_prompts_without_a_chatgpt_reply() -> None:
    cfg = {
        "name": "fixture_koala",
        "prompts": {"format": "koala", "path": str(FIXTURES / "koala.jsonl")},
        "reference": {
            "format": "alpaca_eval",
            "path": str(FIXTURES / "alpaca_outputs.json"),
            "dataset": "koala",
            "match": "text",
        },
    }
    report = DataReport()
    items = build_prompt_set(cfg, report)
    assert [i.id for i in items] == ["koala_0"] and "mouse" in items[0].reference
    assert report.counts["dropped_no_reference"] == 1


def test_alpaca_eval_carries_its_own_reply() -> None:
    cfg = {"prompts": {"format": "alpaca_eval", "path": str(FIXTURES / "alpaca_outputs.json")}}
    items = build_prompt_set(cfg, DataReport())
    assert len(items) == 4 and items[3].category == "koala"


def test_bad_source_specs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="valid formats: alpaca_eval, fastchat_answers"):
        build_prompt_set({"prompts": {"format": "csv", "path": "x"}}, DataReport())
    cfg = vicuna_like() | {
        "second_reference": vicuna_like()["second_reference"] | {"dataset": "nope"}
    }
    with pytest.raises(ValueError, match="no records with dataset='nope'"):
        build_prompt_set(cfg, DataReport())
    cfg = vicuna_like() | {"reference": vicuna_like()["reference"] | {"match": "both"}}
    with pytest.raises(ValueError, match="valid: id, text"):
        build_prompt_set(cfg, DataReport())
    with pytest.raises(FileNotFoundError, match="fixture_vicuna.prompts.path"):
        build_prompt_set(vicuna_like() | {"prompts": {"format": "koala", "path": "missing.jsonl"}}, DataReport())  # fmt: skip


def test_sharegpt_reader_counts_what_it_skips() -> None:
    report = DataReport()
    records = read_sharegpt(REPO / "tests" / "fixtures" / "sharegpt_lines.jsonl", report)
    assert [(r.id, r.prompt, r.reply) for r in records] == [("x", "Q1", "A1")]
    assert sum(v for k, v in report.counts.items() if k.startswith("skipped_")) >= 2


@pytest.mark.parametrize(
    ("prompt", "category", "coding"),
    [
        ("Write a Python function that sorts.", "", True),
        ("Fix this:\n```\nx = 1\n```", "", True),
        ("What does this do?\nint main() {", "", True),
        ("Explain this SQL query.", "", True),
        ("Anything at all", "coding", True),
        ("How do I write a cover letter?", "writing", False),
        ("What is the capital of France?", "", False),
    ],
)
def test_coding_heuristic(prompt: str, category: str, coding: bool) -> None:
    assert is_coding_prompt(prompt, category) is coding


def test_filters_drop_and_count_leaked_non_english_and_coding(tmp_path) -> None:
    items = build_prompt_set(vicuna_like(), DataReport()) + [
        PromptItem(
            "fr",
            "Quelle est la meilleure façon d'apprendre une langue étrangère rapidement ?",
            "La meilleure façon est de pratiquer tous les jours avec des locuteurs natifs et de lire beaucoup.",
        )
    ]
    train = tmp_path / "train.jsonl"
    leaked = {"from": "human", "value": "What are the causes of inflation?"}
    train.write_text(json.dumps({"id": "t1", "conversations": [leaked, {"from": "gpt", "value": "Money."}]}) + "\n")  # fmt: skip
    report = DataReport()
    cfg = {
        "leakage_train": str(train),
        "bleu_threshold": 20,
        "english_only": True,
        "drop_coding": True,
    }
    kept = filter_prompts(items, cfg, report)
    assert [i.id for i in kept] == ["1"]
    assert report.counts["dropped_leaked_eval_prompts"] == 1
    assert report.counts["dropped_language_not_en"] == 1
    assert report.counts["dropped_coding"] == 1


def test_no_filters_change_nothing() -> None:
    items = build_prompt_set(vicuna_like(), DataReport())
    cfg = {"leakage_train": None, "english_only": False, "drop_coding": False}
    assert filter_prompts(items, cfg, DataReport()) == items


def test_a_training_runs_generations_table_is_a_prompt_set() -> None:
    cfg = {"prompts": {"format": "generations", "path": str(FIXTURES / "generations.json")}}
    items = build_prompt_set(cfg, DataReport())
    assert [i.id for i in items] == ["h1", "h2"] and items[1].reference.startswith(
        "The Pacific Ocean"
    )
    with pytest.raises(ValueError, match="not a generations table"):
        build_prompt_set({"prompts": {"format": "generations", "path": str(FIXTURES / "alpaca_outputs.json")}}, DataReport())  # fmt: skip
