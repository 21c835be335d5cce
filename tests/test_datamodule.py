"""The datamodule: budgets ("0.3M"-style, nested), a fixed held-out split, the preprocessing cache."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from imitate.data.datamodule import ImitationDataModule
from imitate.data.format import ChatFormat, add_special_tokens
from imitate.data.pack import unpack_blocks


@pytest.fixture
def source_file(tmp_path):
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    path = tmp_path / "convs.jsonl"
    with path.open("w") as out:
        for index in range(60):
            turns = []
            for _ in range(int(rng.integers(1, 4))):
                turns.append({"from": "human", "value": " ".join(rng.choice(words, 12))})
                turns.append({"from": "gpt", "value": " ".join(rng.choice(words, 30))})
            out.write(json.dumps({"id": f"c{index}", "conversations": turns}) + "\n")
    return path


@pytest.fixture
def tokenizer(smollm2_tokenizer):
    add_special_tokens(smollm2_tokenizer, ChatFormat())
    return smollm2_tokenizer


def build(source_file, tokenizer, cache_dir=None, **overrides) -> ImitationDataModule:
    options = dict(
        block_size=32, max_tokens=None, val_conversations=5, heldout_prompts=2, cache_dir=cache_dir
    )
    datamodule = ImitationDataModule(
        sources={"test": {"path": str(source_file)}}, **(options | overrides)
    )
    datamodule.prepare(tokenizer)
    return datamodule


def train_stream(datamodule) -> np.ndarray:
    dataset = datamodule.train_set
    return unpack_blocks(dataset.ids, dataset.labels, dataset.lengths)[0]


def test_budget_strings_are_exact_and_nested(source_file, tokenizer) -> None:
    small = build(source_file, tokenizer, max_tokens="0.5k")
    large = build(source_file, tokenizer, max_tokens="1.5k")
    assert len(train_stream(small)) == 500 and len(train_stream(large)) == 1500
    np.testing.assert_array_equal(train_stream(large)[:500], train_stream(small))
    np.testing.assert_array_equal(small.val_set.ids, large.val_set.ids)  # same held-out set
    assert small.stats["data/train_tokens"] == 500
    assert 0 < small.stats["data/train_supervised_tokens"] < 500


def test_asking_for_more_tokens_than_exist_says_how_many_exist(source_file, tokenizer) -> None:
    with pytest.raises(
        ValueError,
        match=r"data.max_tokens=1,000,000 but the sources .* hold only [\d,]+ training tokens.*allow_smaller",
    ):
        build(source_file, tokenizer, max_tokens="1M")


def test_bad_budget_string_is_a_clear_error(source_file, tokenizer) -> None:
    with pytest.raises(ValueError, match="data.max_tokens='lots'.*0.3M"):
        build(source_file, tokenizer, max_tokens="lots")


def test_second_prepare_reuses_the_cache(source_file, tokenizer, tmp_path, caplog) -> None:
    first = build(source_file, tokenizer, cache_dir=tmp_path / "cache", max_tokens=800)
    with caplog.at_level(logging.INFO):
        second = build(source_file, tokenizer, cache_dir=tmp_path / "cache", max_tokens=800)
    assert "reusing preprocessed blocks" in caplog.text
    np.testing.assert_array_equal(first.train_set.ids, second.train_set.ids)
    assert first.report.counts == second.report.counts
    assert second.heldout[0]["reference"]


def test_allow_smaller_trains_on_everything_and_counts_the_shortfall(
    source_file, tokenizer
) -> None:
    datamodule = build(source_file, tokenizer, max_tokens="1M", allow_smaller=True)
    available = int(datamodule.stats["data/train_tokens"])
    assert 0 < available < 1_000_000
    assert datamodule.report.counts["budget_shortfall_tokens"] == 1_000_000 - available


def test_weight_that_does_not_parse_names_the_source() -> None:
    with pytest.raises(
        ValueError, match=r"data.sources.web: weight must be a number above 0.*'lots'"
    ):
        ImitationDataModule(sources={"web": {"path": "x.jsonl", "weight": "lots"}})
