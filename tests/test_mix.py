"""Sources beyond ShareGPT (HC3, generic JSONL with a field map) and the seeded weighted mixture."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hydra.utils import instantiate

from imitate.data.conversations import normalise_all
from imitate.data.format import ChatFormat, add_special_tokens
from imitate.data.mix import seeded_mixture
from imitate.data.report import DataReport
from imitate.data.source_formats import SourceConfig, read_source
from tests.conftest import compose_config


def conversations(source: str, count: int) -> list[dict]:
    return [{"id": f"{source}{i}", "source": source, "turns": []} for i in range(count)]


def test_mixture_uses_each_conversation_once_in_weighted_proportions() -> None:
    per_source = {"a": conversations("a", 3000), "b": conversations("b", 3000)}
    mixed = seeded_mixture(per_source, {"a": 3.0, "b": 1.0}, seed=7)
    assert sorted(c["id"] for c in mixed) == sorted(
        c["id"] for c in per_source["a"] + per_source["b"]
    )
    prefix = Counter(c["source"] for c in mixed[:2000])
    assert prefix["a"] / 2000 == pytest.approx(0.75, abs=0.03)
    assert mixed == seeded_mixture(per_source, {"a": 3.0, "b": 1.0}, seed=7)
    assert mixed != seeded_mixture(per_source, {"a": 3.0, "b": 1.0}, seed=8)


def read(source: SourceConfig) -> tuple[list[dict], DataReport]:
    report = DataReport()
    return list(normalise_all(read_source(source, report), "test", report)), report


def test_field_map_reads_single_turn_records(tmp_path) -> None:
    path = tmp_path / "bot.jsonl"
    rows = [{"query": "Hi?", "reply": "Hello.", "sys": "Be kind."}, {"query": "No reply here"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    fields = {"prompt": "query", "response": "reply", "system": "sys", "id": None}
    got, report = read(SourceConfig(path=str(path), format="fields", fields=fields))
    assert [t["role"] for t in got[0]["turns"]] == ["system", "user", "assistant"]
    assert report.counts["skipped_missing_field"] == 1


def test_field_map_reads_multi_turn_records(tmp_path) -> None:
    path = tmp_path / "dump.jsonl"
    messages = [{"author": "user", "text": "Q"}, {"author": "assistant", "text": "A"}]
    path.write_text(json.dumps({"id": "d1", "msgs": messages}) + "\n")
    fields = {"messages": "msgs", "role": "author", "content": "text"}
    got, _ = read(SourceConfig(path=str(path), format="fields", fields=fields))
    assert got[0]["turns"] == [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A"},
    ]


def test_unknown_format_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: sharegpt, hc3, fields"):
        SourceConfig(format="alpaca")


@pytest.mark.shared_data
def test_hc3_every_record_is_a_conversation_or_a_counted_skip(shared_data) -> None:
    lines = sum(
        1 for f in (shared_data / "hc3").glob("*.jsonl") for line in f.open() if line.strip()
    )
    got, report = read(SourceConfig(path=str(shared_data / "hc3"), format="hc3"))
    skipped = sum(v for k, v in report.counts.items() if k.startswith("skipped_"))
    assert len(got) + skipped == lines and len(got) > 0.9 * lines
    assert [t["role"] for t in got[0]["turns"]] == ["user", "assistant"]


@pytest.mark.shared_data
def test_sharegpt_mix_config_builds_a_mixture_with_a_data_card(
    shared_data, smollm2_tokenizer, tmp_path
) -> None:
    sharegpt = tmp_path / "sharegpt.jsonl"
    with sharegpt.open("w") as out:
        for i in range(200):
            turns = [
                {"from": "human", "value": f"Question {i} about topic {i * 7}?"},
                {"from": "gpt", "value": f"Answer {i}."},
            ]
            out.write(json.dumps({"id": f"s{i}", "conversations": turns}) + "\n")
    cfg = compose_config(
        [
            "data=sharegpt_mix",
            f"data.sources.sharegpt.path={sharegpt}",
            f"data.sources.hc3.path={shared_data / 'hc3'}",
            "data.max_tokens=20k",
            "data.block_size=256",
            "data.cache_dir=null",
        ]
    )
    add_special_tokens(smollm2_tokenizer, ChatFormat())
    datamodule = instantiate(cfg.data, micro_batch_size=2, seed=0)
    datamodule.prepare(smollm2_tokenizer)
    card = datamodule.card
    assert set(card["sources"]) == {"sharegpt", "hc3"}  # both sources are in the budgeted prefix
    assert card["total"]["tokens"] == 20_000
    assert card["diversity"]["queries"] > 0
    assert datamodule.report.counts["source_hc3_conversations"] > 0
