"""The LC win rate recovers a planted intercept from verdicts with a planted length bias."""

from __future__ import annotations

import numpy as np
import pytest

from imitate.judge.length_control import lc_from_rows, length_controlled_win_rate


def planted(theta: float, phi: float, n: int = 4000, seed: int = 0):
    """Verdicts from P(win) = sigmoid(theta + phi * tanh(d / sd(d))), candidates ~300 chars longer."""
    rng = np.random.default_rng(seed)
    d = rng.normal(300, 200, n)
    p = 1 / (1 + np.exp(-(theta + phi * np.tanh(d / d.std()))))
    return (rng.random(n) < p).astype(float), d


def test_lc_rate_recovers_the_planted_intercept_despite_a_length_bias() -> None:
    theta, phi = -0.5, 1.5
    scores, d = planted(theta, phi)
    raw = scores.mean()
    fit = length_controlled_win_rate(scores, d)
    target = 1 / (1 + np.exp(-theta))  # 0.378: the rate at equal length
    assert raw > target + 0.2  # the length bias inflates the raw rate (~0.66)
    assert fit.win_rate == pytest.approx(target, abs=0.04)
    assert fit.length_coefficient == pytest.approx(phi, abs=0.3)
    assert fit.intercept == pytest.approx(theta, abs=0.2)


def test_no_length_bias_means_lc_equals_the_raw_rate() -> None:
    scores, d = planted(0.8, 0.0, seed=1)
    fit = length_controlled_win_rate(scores, d)
    assert fit.win_rate == pytest.approx(scores.mean(), abs=0.03)
    assert abs(fit.length_coefficient) < 0.3


def test_soft_scores_and_degenerate_inputs() -> None:
    # ties (0.5) as soft labels: all ties give 0.5 at any length
    fit = length_controlled_win_rate([0.5] * 10, list(range(10)))
    assert fit.win_rate == pytest.approx(0.5, abs=1e-3)
    # every pair won: finite coefficients (light L2), a rate near 1
    assert length_controlled_win_rate([1.0] * 20, [0.0] * 20).win_rate > 0.95
    with pytest.raises(ValueError, match=">= 2 pairs"):
        length_controlled_win_rate([1.0], [3.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        length_controlled_win_rate([2.0, 0.0], [1.0, 2.0])


def test_lc_over_judged_rows_skips_error_rows() -> None:
    scores, d = planted(0.0, 1.0, n=400, seed=2)
    rows = [
        {"score": s, "candidate_chars": 500 + x, "reference_chars": 500}
        for s, x in zip(scores, d, strict=True)
    ] + [{"score": None, "candidate_chars": 1, "reference_chars": 9}]
    fit = lc_from_rows(rows)
    assert fit.pairs == 400
    assert lc_from_rows(rows[-1:]) is None
