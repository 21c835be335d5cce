"""Preference (Fig. 1) and agreement on hand-worked examples."""

from __future__ import annotations

import math

import pytest

from imitate.rate.stats import agreement, fleiss_kappa, preference


def test_preference_scores_better_equal_worse() -> None:
    stats = preference(["model", "tie", "teacher", "teacher"])
    assert stats["ratings"] == 4
    assert stats["preference"] == pytest.approx(0.375)  # (1 + 0.5 + 0 + 0) / 4
    assert stats["preference_std"] == pytest.approx(math.sqrt(0.6875 / 4))  # population std
    assert stats["at_least_equal_share"] == pytest.approx(0.5)
    assert (stats["model_share"], stats["tie_share"], stats["teacher_share"]) == (0.25, 0.25, 0.5)
    assert preference([])["preference"] is None


# item -> verdicts: worked by hand below
ITEMS = {
    "a": ["model", "model"],
    "b": ["model", "teacher"],
    "c": ["tie", "tie", "teacher"],
    "d": ["teacher", "teacher"],
    "e": ["model"],  # rated once: not part of agreement
}


def test_agreement_and_fleiss_kappa_by_hand() -> None:
    stats = agreement((item, v) for item, verdicts in ITEMS.items() for v in verdicts)
    assert stats["items_rated_twice_or_more"] == 4
    assert stats["rating_pairs"] == 6  # 1 + 1 + 3 + 1
    assert stats["agreement"] == pytest.approx(3 / 6)  # a, the tie pair of c, d
    assert stats["agreement_without_ties"] == pytest.approx(2 / 3)  # a, b, d
    # P_i = 1, 0, (5 - 3) / 6, 1 -> P = 7/12; p = (3, 2, 4) / 9 -> P_e = 29/81
    expected = (7 / 12 - 29 / 81) / (1 - 29 / 81)
    assert stats["fleiss_kappa"] == pytest.approx(expected)


def test_kappa_extremes() -> None:
    assert fleiss_kappa([["model", "model"], ["teacher", "teacher"]]) == pytest.approx(1.0)
    assert fleiss_kappa([["model", "teacher"], ["teacher", "model"]]) == pytest.approx(-1.0)
    assert fleiss_kappa([["tie", "tie"]]) is None  # one category only: chance agreement is 1
    assert fleiss_kappa([["tie"]]) is None
    assert agreement([("a", "tie")])["agreement"] is None
