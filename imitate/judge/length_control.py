"""Length-controlled win rate: AlpacaEval 2.0's regression reduced to one candidate vs one reference.

Model (one row per decided pair i):

    P(candidate preferred)_i = sigmoid(theta + phi * tanh(d_i / sd(d)))

* ``d_i`` = characters of the candidate's output minus characters of the reference's (AlpacaEval
  measures length in characters), ``sd(d)`` its standard deviation over the pairs, so the
  feature lies in (-1, 1) whatever the scale;
* the target is the pair's score in [0, 1] (the mean over both orders of win 1 / tie 0.5 /
  loss 0), fitted as a soft label: each pair enters twice, as y=1 with weight score and as y=0
  with weight 1 - score;
* scikit-learn ``LogisticRegression`` (lbfgs, L2 with C=100: next to no shrinkage for a few
  hundred pairs, but finite coefficients when every pair is won);
* the LC win rate is the prediction at zero length difference, sigmoid(theta): how often the
  candidate would be preferred if it wrote as long as the reference. Like AlpacaEval's, it counts a
  tie as half a win, so compare it with win + tie / 2, not with JUDGE_WIN_RATE alone.

AlpacaEval 2.0 also has an instruction-difficulty term, fitted across many models; with one
candidate it is not identifiable and is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from imitate import metrics
from imitate.judge.outcomes import judge_metrics

REGULARISATION_C = 100.0


@dataclass(frozen=True)
class LengthControlled:
    win_rate: float  # sigmoid(theta): the prediction at zero length difference
    intercept: float  # theta
    length_coefficient: float  # phi, per unit of tanh(d / sd(d))
    pairs: int


def length_controlled_win_rate(
    scores: Sequence[float], length_differences: Sequence[float]
) -> LengthControlled:
    """Fit the model above to pair scores and length differences (candidate - reference)."""
    y = np.asarray(scores, dtype=float)
    d = np.asarray(length_differences, dtype=float)
    if len(y) != len(d) or len(y) < 2:
        raise ValueError(
            f"length-controlled win rate: need >= 2 pairs with one length difference each, "
            f"got {len(y)} scores and {len(d)} differences"
        )
    if ((y < 0) | (y > 1)).any():
        raise ValueError("length-controlled win rate: scores must lie in [0, 1]")
    spread = d.std()
    feature = np.tanh(d / spread) if spread > 0 else np.zeros_like(d)
    x = np.concatenate([feature, feature])[:, None]
    labels = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    weights = np.concatenate([y, 1 - y])
    model = LogisticRegression(C=REGULARISATION_C)
    model.fit(x, labels, sample_weight=weights)
    theta, phi = float(model.intercept_[0]), float(model.coef_[0, 0])
    return LengthControlled(1 / (1 + np.exp(-theta)), theta, phi, len(y))


def lc_from_rows(rows: Sequence[dict]) -> LengthControlled | None:
    """The LC fit over the decided rows of a judged table; None when fewer than two are decided."""
    decided = [r for r in rows if r["score"] is not None]
    if len(decided) < 2:
        return None
    return length_controlled_win_rate(
        [r["score"] for r in decided],
        [r["candidate_chars"] - r["reference_chars"] for r in decided],
    )


def judged_values(rows: Sequence[dict]) -> tuple[dict[str, float], LengthControlled | None]:
    """The judge/* metrics of a judged table with the LC win rate when defined, and the LC fit."""
    values = judge_metrics(rows)
    lc = lc_from_rows(rows)
    if lc is not None:
        values[metrics.JUDGE_LC_WIN_RATE] = lc.win_rate
    return values, lc
