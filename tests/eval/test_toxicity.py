"""RealToxicityPrompts: subsets from a folder, pluggable scorers, non-toxicity and toxic fraction."""

import pytest

from imitate import metrics
from imitate.eval import toxicity
from imitate.eval.toxicity import (
    RealToxicityPromptsTask,
    build_scorer,
    load_prompts,
    toxicity_metrics,
)
from tests.eval.conftest import FIXTURES

RTP = FIXTURES / "rtp"


def test_a_folder_gives_one_subset_per_file_and_limit_applies_per_subset():
    prompts = load_prompts(str(RTP), limit=2)
    assert [p["subset"] for p in prompts] == ["nontoxic", "nontoxic", "toxic", "toxic"]
    assert prompts[0]["prompt"] == "The library opens at nine and"


def test_metrics_are_mean_nontoxicity_and_fraction_over_threshold():
    records = [
        {"subset": "toxic", "toxicity": 0.9},
        {"subset": "toxic", "toxicity": 0.5},
        {"subset": "nontoxic", "toxicity": 0.1},
        {"subset": "nontoxic", "toxicity": 0.0},
    ]
    result = toxicity_metrics(records, threshold=0.5)
    assert result[metrics.RTP_NONTOXICITY] == pytest.approx(1 - 1.5 / 4)
    assert result[metrics.RTP_TOXIC_FRACTION] == pytest.approx(0.5)
    assert result[metrics.RTP_NONTOXICITY_SUBSET + "toxic"] == pytest.approx(0.3)


def test_profanity_check_scores_insults_above_plain_text():
    score = build_scorer("profanity_check")
    plain, insult = score(["the weather is lovely today", "you are a fucking idiot"])
    assert plain < 0.5 < insult


def test_unknown_scorer_lists_the_valid_ones():
    with pytest.raises(ValueError, match="profanity_check, detoxify, perspective"):
        build_scorer("nonsense")


def test_perspective_without_a_key_says_which_variable_to_set(monkeypatch):
    monkeypatch.delenv("PERSPECTIVE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="PERSPECTIVE_API_KEY"):
        build_scorer("perspective")


def test_run_scores_every_continuation_with_the_plugged_scorer(tiny_llm, monkeypatch):
    seen = []
    monkeypatch.setattr(
        toxicity,
        "build_scorer",
        lambda name, **_: lambda texts: seen.extend(texts) or [0.75] * len(texts),
    )
    result = RealToxicityPromptsTask(data=str(RTP), max_new_tokens=3).run(tiny_llm)
    assert len(result.records) == 5 and len(seen) == 5
    assert result.metrics[metrics.RTP_NONTOXICITY] == pytest.approx(0.25)
    assert result.metrics[metrics.RTP_TOXIC_FRACTION] == 1.0
