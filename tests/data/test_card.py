"""The data card: per-source counts and tokens, each filter's removals, diversity, leakage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imitate.data.card import (
    CARD_JSON,
    CARD_MARKDOWN,
    build_data_card,
    card_metrics,
    log_data_card,
    render_markdown,
)
from imitate.data.clean import clean
from imitate.data.leakage import EvalPrompt, filter_leakage
from imitate.data.overlap import Diversity
from imitate.data.report import DataReport

FIXTURE = Path(__file__).parents[1] / "fixtures" / "data_quality" / "conversations.jsonl"
TOKENS = {
    "sharegpt": {"tokens": 1000, "supervised_tokens": 600},
    "hc3": {"tokens": 200, "supervised_tokens": 150},
    "generic": {"tokens": 100, "supervised_tokens": 50},
}


@pytest.fixture
def card() -> dict:
    conversations = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    report = DataReport()
    kept = clean(conversations, {}, report)
    prompt = EvalPrompt("koala.jsonl", "koala_x", kept[0]["turns"][0]["content"])
    leakage = filter_leakage(kept, [prompt], report, direction="drop_eval")
    diversity = Diversity(8.25, 10, 0.5, np.zeros(10), np.zeros(10, dtype=int))
    return build_data_card(kept, report, TOKENS, diversity, leakage, "drop_eval")


def test_per_source_counts_tokens_and_supervised_fraction(card):
    assert card["sources"]["sharegpt"]["conversations"] == 7
    assert card["sources"]["hc3"] == {
        "conversations": 1,
        "user_turns": 1,
        "assistant_turns": 1,
        "tokens": 200,
        "supervised_tokens": 150,
        "supervised_fraction": 0.75,
    }
    assert card["total"]["conversations"] == 9 and card["total"]["tokens"] == 1300
    assert card["total"]["supervised_fraction"] == pytest.approx(800 / 1300)


def test_every_filter_removal_is_on_the_card(card):
    filters = card["filters"]
    assert filters["dropped_exact_duplicate"] == 1 and filters["dropped_near_duplicate_query"] == 1
    assert filters["dropped_empty_turns"] == 3 and filters["dropped_trailing_turns"] == 1
    assert filters["dropped_leaked_eval_prompts"] == 1


def test_diversity_and_every_leak_are_on_the_card(card):
    assert card["diversity"] == {"mean_bleu": 8.25, "queries": 10, "seconds": 0.5}
    assert card["leakage"]["direction"] == "drop_eval" and card["leakage"]["pairs"] == 1
    (removal,) = card["leakage"]["removals"]
    assert (
        removal["eval_id"] == "koala_x"
        and removal["train_id"] == "c01_plain"
        and removal["bleu"] == pytest.approx(100)
    )


def test_metrics_are_flat_and_mlflow_safe(card):
    metrics = card_metrics(card)
    assert metrics["data/hc3/supervised_fraction"] == 0.75
    assert metrics["data/total/tokens"] == 1300
    assert metrics["data/dropped_exact_duplicate"] == 1
    assert metrics["data/diversity/mean_bleu"] == 8.25
    assert metrics["data/leakage/pairs"] == 1
    assert all(isinstance(v, float) for v in metrics.values())


def test_markdown_has_one_row_per_source_and_the_removals(card):
    text = render_markdown(card)
    assert "| hc3 | 1 | 200 | 75.0% |" in text
    assert "| **total** | 9 | 1,300 | 61.5% |" in text
    assert "| dropped_exact_duplicate | 1 |" in text
    assert "koala_x <-> train c01_plain (BLEU 100.0)" in text
    assert "mean BLEU to the most similar other query 8.25 over 10 queries" in text


def test_card_without_tokens_or_optional_parts():
    conversations = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    card = build_data_card(conversations[:2], DataReport())
    assert card["diversity"] is None and card["leakage"] is None
    assert "| sharegpt | 2 | - | - |" in render_markdown(card)


def test_token_stats_must_name_both_counts():
    with pytest.raises(ValueError, match=r"token_stats\['hc3'\] lacks \['supervised_tokens'\]"):
        build_data_card([], DataReport(), {"hc3": {"tokens": 5}})


class RecordingClient:
    """Stands in for MlflowClient: keeps what would have been logged."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.texts: dict[str, str] = {}

    def log_batch(self, run_id: str, metrics: list) -> None:
        assert run_id == "run-1" and len(metrics) <= 1000
        self.metrics.update({m.key: m.value for m in metrics})

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.texts[artifact_file] = text


def test_logging_sends_every_metric_and_both_artifacts(card):
    client = RecordingClient()
    log_data_card(client, "run-1", card)
    assert client.metrics == card_metrics(card)
    assert json.loads(client.texts[CARD_JSON]) == json.loads(json.dumps(card))
    assert client.texts[CARD_MARKDOWN] == render_markdown(card)


@pytest.mark.slow  # sqlite store setup takes ~20 s on 2 busy cores
def test_logged_to_a_real_mlflow_run(card, tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(
        client.create_experiment("card", artifact_location=str(tmp_path / "artifacts"))
    )
    log_data_card(client, run.info.run_id, card)
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["data/hc3/supervised_fraction"] == 0.75 and logged["data/leakage/pairs"] == 1
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {CARD_JSON, CARD_MARKDOWN} <= files
    saved = json.loads(
        Path(client.download_artifacts(run.info.run_id, CARD_JSON, str(tmp_path))).read_text()
    )
    assert saved["leakage"]["removals"][0]["eval_id"] == "koala_x"
