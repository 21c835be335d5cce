"""Query diversity (the paper's 8% for ShareGPT-Mix) and near-duplicate user queries, by BLEU.

BLEU here is ``sacrebleu.sentence_bleu(query, [other]).score`` (13a tokens, case kept, exp
smoothing, effective order), computed in bulk by :mod:`imitate.data.ngram_index` (equal to
sacrebleu to float rounding, tested) over candidates from :mod:`imitate.data.nearest`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from imitate.data.conversations import USER
from imitate.data.nearest import SearchSettings, top_matches
from imitate.data.ngram_index import build_index

log = logging.getLogger(__name__)

# Settings that make the search exhaustive: every feature finds candidates, every candidate scored.
BRUTE_FORCE = SearchSettings(candidates=2**62, frequent_df=2**62, workers=1)


@dataclass
class Diversity:
    """Per query, BLEU to its most similar other query; ``mean_bleu`` is the paper's number."""

    mean_bleu: float
    n_queries: int
    seconds: float
    best_bleu: np.ndarray  # (queries,)
    most_similar: np.ndarray  # (queries,) index of the most similar other query, -1 if none


def user_queries(conversations: list[dict]) -> list[str]:
    """Every user turn's text, in conversation order: the units the paper's diversity is over."""
    return [t["content"] for c in conversations for t in c["turns"] if t["role"] == USER]


def query_diversity(queries: list[str], settings: SearchSettings | None = None) -> Diversity:
    """Mean over queries of the BLEU to the most similar *other* query (fast path by default).

    Pass ``BRUTE_FORCE`` as ``settings`` to score every pair; the fast path can only be lower,
    see :mod:`imitate.data.nearest` for when.
    """
    started = time.perf_counter()
    if len(queries) < 2:
        raise ValueError(f"query diversity needs at least 2 queries, got {len(queries)}")
    index = build_index(queries)
    rows = np.arange(len(queries))
    most_similar, best = top_matches(
        index, rows, rows, keep=1, exclude_self=True, settings=settings
    )
    seconds = time.perf_counter() - started
    log.info(
        "diversity of %d queries: mean BLEU %.2f in %.1f s", len(queries), best.mean(), seconds
    )
    return Diversity(float(best.mean()), len(queries), seconds, best[:, 0], most_similar[:, 0])


@dataclass(frozen=True)
class DiversityConfig:
    """``data.diversity``: whether the data card measures it, and over how many queries."""

    enabled: bool = True
    # A seeded sample of this many user queries (None: all). The max over more queries is higher
    # (packaged ShareGPT: 12.3 BLEU on 1,000 queries, 18.6 on 5,000, 38.0 on all 61k), so only a
    # fixed sample size compares mixes and budgets; 1,000 unique queries give 9.7 (paper: 8).
    sample_queries: int | None = 1000


def diversity_for_card(
    conversations: list[dict], cfg: Mapping | DiversityConfig, seed: int = 0
) -> Diversity | None:
    """Diversity of the conversations' user queries as ``data.diversity`` asks, or None if off."""
    values = cfg if isinstance(cfg, DiversityConfig) else dict(cfg)
    if isinstance(values, dict):
        valid = {f.name for f in fields(DiversityConfig)}
        if set(values) - valid:
            raise ValueError(
                f"data.diversity: unknown key(s) {sorted(set(values) - valid)}; valid keys: {sorted(valid)}"
            )
        values = DiversityConfig(**values)
    if not values.enabled:
        return None
    queries = user_queries(conversations)
    if values.sample_queries is not None and values.sample_queries < len(queries):
        queries = random.Random(seed).sample(queries, values.sample_queries)
    return query_diversity(queries)


@dataclass(frozen=True)
class NearDuplicate:
    duplicate: int  # position of the later text, the one dropped
    original: int  # position of the earlier text it copies
    bleu: float


def near_duplicates(
    texts: list[str],
    bleu_threshold: float,
    min_tokens: int,
    settings: SearchSettings | None = None,
) -> list[NearDuplicate]:
    """Texts whose BLEU against an earlier *kept* text reaches ``bleu_threshold``.

    The later text is the hypothesis. Texts under ``min_tokens`` tokens are never duplicates
    (``continue``, ``go on`` open many different conversations). Only the best
    ``settings.candidates`` earlier texts of each text are checked.
    """
    if not 0 < bleu_threshold <= 100:
        raise ValueError(f"near-duplicate bleu_threshold={bleu_threshold}: expected 0 < t <= 100")
    settings = settings or SearchSettings()
    index = build_index(texts)
    rows = np.flatnonzero(index.lengths >= min_tokens)
    found, bleu = top_matches(
        index, rows, rows, keep=settings.candidates, exclude_self=True, settings=settings
    )
    dropped: set[int] = set()
    duplicates = []
    for text, originals, scores in zip(
        rows, found, bleu, strict=True
    ):  # rows ascend: earlier texts first
        for original, score in zip(originals, scores, strict=True):  # best match first
            if 0 <= original < text and score >= bleu_threshold and original not in dropped:
                dropped.add(int(text))
                duplicates.append(NearDuplicate(int(text), int(original), float(score)))
                break
    return duplicates
