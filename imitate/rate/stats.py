"""Preference against the teacher (paper Fig. 1) and inter-rater agreement, from verdicts.

A verdict is the rating in the study's terms, whatever side each output was shown on:
``model`` (the imitation model's output rated better), ``teacher`` or ``tie`` (rated equal).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import combinations

import numpy as np

VERDICTS = ("model", "tie", "teacher")
SCORE = {"model": 1.0, "tie": 0.5, "teacher": 0.0}  # per rating: better / equal / worse


def preference(verdicts: list[str]) -> dict[str, float | int | None]:
    """Mean and std (population, ddof=0) of per-rating scores; the shares behind them."""
    if not verdicts:
        return {"ratings": 0, "preference": None, "preference_std": None}
    scores = np.array([SCORE[v] for v in verdicts])
    counts = Counter(verdicts)
    shares = {f"{v}_share": counts[v] / len(verdicts) for v in VERDICTS}
    return {
        "ratings": len(verdicts),
        "preference": float(scores.mean()),
        "preference_std": float(scores.std()),
        # The paper's headline form: imitation rated better than or equal to the teacher.
        "at_least_equal_share": (counts["model"] + counts["tie"]) / len(verdicts),
        **shares,
    }


def agreement(item_verdicts: Iterable[tuple[str, str]]) -> dict[str, float | int | None]:
    """Agreement over items rated by >= 2 raters, from (item id, verdict) pairs.

    ``agreement``: the share of agreeing pairs over all pairs of ratings of the same item (ties are
    a third category; Zheng et al. 2023's setup S1). ``agreement_without_ties``: the same over pairs
    where neither rating is a tie (S2). ``fleiss_kappa``: chance-corrected, over the three verdicts.
    """
    by_item: dict[str, list[str]] = defaultdict(list)
    for item, verdict in item_verdicts:
        by_item[item].append(verdict)
    shared = {item: vs for item, vs in by_item.items() if len(vs) >= 2}
    pairs = [pair for vs in shared.values() for pair in combinations(vs, 2)]
    decisive = [(a, b) for a, b in pairs if "tie" not in (a, b)]
    return {
        "items_rated_twice_or_more": len(shared),
        "rating_pairs": len(pairs),
        "agreement": _share_equal(pairs),
        "agreement_without_ties": _share_equal(decisive),
        "fleiss_kappa": fleiss_kappa(list(shared.values())),
    }


def fleiss_kappa(ratings_per_item: list[list[str]]) -> float | None:
    """Fleiss' kappa, allowing a different number of raters per item (each >= 2).

    Fleiss, J. L. (1971), "Measuring nominal scale agreement among many raters", Psychological
    Bulletin 76(5), 378-382: P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1)), P = mean of P_i,
    p_j = share of all ratings in category j, P_e = sum_j p_j^2, kappa = (P - P_e) / (1 - P_e).
    With equal n_i this is exactly Fleiss's formula; with unequal n_i, P_i uses each item's own
    n_i and p_j pools all ratings (the usual extension). None when undefined (no items, or every
    rating in one category: P_e = 1).
    """
    items = [vs for vs in ratings_per_item if len(vs) >= 2]
    if not items:
        return None
    counts = np.array([[Counter(vs)[v] for v in VERDICTS] for vs in items], dtype=float)
    n = counts.sum(axis=1)
    per_item = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    shares = counts.sum(axis=0) / n.sum()
    expected = float((shares**2).sum())
    if expected >= 1.0:
        return None
    return (float(per_item.mean()) - expected) / (1.0 - expected)


def _share_equal(pairs: list[tuple[str, str]]) -> float | None:
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else None
