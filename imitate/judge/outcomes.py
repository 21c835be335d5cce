"""From two per-order verdicts to a pair's outcome, and from pairs to the judge/* metrics.

Per order the candidate gets win (1), tie (0.5) or loss (0). A pair's **score** is the mean of
its two orders. Rules:

* balanced (``outcome``): score > 0.5 win, = 0.5 tie, < 0.5 loss, so a flip (win one way, loss
  the other) is a tie and win + tie is a win. JUDGE_WIN/TIE/LOSS_RATE and JUDGE_PREFERENCE
  (win + tie: "equal or better", the paper's Fig. 1) use it;
* conservative (Zheng et al. 2023): a win (loss) only when both orders say win (loss), else a tie:
  JUDGE_CONSERVATIVE_WIN_RATE;
* consistency: both orders gave the same outcome (ties included): JUDGE_CONSISTENCY.

A pair with an unparseable verdict in either order is an ``error`` row: kept in the table,
left out of every rate, and counted (JUDGE_UNPARSEABLE is over judgements, two per pair).
"""

from __future__ import annotations

from collections.abc import Sequence

from imitate import metrics
from imitate.llm.verdicts import ERROR

WIN, TIE, LOSS = "win", "tie", "loss"
SCORE = {WIN: 1.0, TIE: 0.5, LOSS: 0.0}


def balanced_outcome(outcomes: Sequence[str]) -> str:
    """Win / tie / loss from the mean score of the orders; ERROR when any order is unparseable."""
    if ERROR in outcomes:
        return ERROR
    score = sum(SCORE[o] for o in outcomes) / len(outcomes)
    return WIN if score > 0.5 else LOSS if score < 0.5 else TIE


def conservative_outcome(outcomes: Sequence[str]) -> str:
    """Win (loss) only when every order says win (loss); otherwise a tie."""
    if ERROR in outcomes:
        return ERROR
    if all(o == WIN for o in outcomes):
        return WIN
    if all(o == LOSS for o in outcomes):
        return LOSS
    return TIE


def pair_row(pair, outcomes: Sequence[str], replies: Sequence[str]) -> dict:
    """The artifact-table row of one judged pair."""
    decided = ERROR not in outcomes
    return {
        "id": pair.id,
        "instruction": pair.prompt,
        "candidate": pair.output,
        "reference": pair.reference,
        "candidate_first_outcome": outcomes[0],
        "reference_first_outcome": outcomes[1],
        "candidate_first_reply": replies[0],
        "reference_first_reply": replies[1],
        "outcome": balanced_outcome(outcomes),
        "conservative_outcome": conservative_outcome(outcomes),
        "consistent": decided and outcomes[0] == outcomes[1],
        "score": sum(SCORE[o] for o in outcomes) / len(outcomes) if decided else None,
        "candidate_chars": len(pair.output),
        "reference_chars": len(pair.reference),
    }


def judge_metrics(rows: Sequence[dict]) -> dict[str, float]:
    """judge/* metrics over the decided pairs (fractions in [0, 1])."""
    if not rows:
        raise ValueError("judge metrics: no pairs were judged")
    judgements = [
        o for r in rows for o in (r["candidate_first_outcome"], r["reference_first_outcome"])
    ]
    values = {metrics.JUDGE_UNPARSEABLE: judgements.count(ERROR) / len(judgements)}
    decided = [r for r in rows if r["outcome"] != ERROR]
    if not decided:
        return values  # every pair has an unparseable verdict: no rate is defined
    n = len(decided)
    balanced = [r["outcome"] for r in decided]
    values |= {
        metrics.JUDGE_WIN_RATE: balanced.count(WIN) / n,
        metrics.JUDGE_TIE_RATE: balanced.count(TIE) / n,
        metrics.JUDGE_LOSS_RATE: balanced.count(LOSS) / n,
        metrics.JUDGE_PREFERENCE: (balanced.count(WIN) + balanced.count(TIE)) / n,
        metrics.JUDGE_CONSERVATIVE_WIN_RATE: sum(r["conservative_outcome"] == WIN for r in decided)
        / n,
        metrics.JUDGE_CONSISTENCY: sum(r["consistent"] for r in decided) / n,
    }
    return values


def outcome_counts(rows: Sequence[dict]) -> dict[str, int]:
    """How many pairs had each balanced and conservative outcome, errors included (for the log)."""
    counts: dict[str, int] = {"pairs": len(rows)}
    for rule in ("outcome", "conservative_outcome"):
        for value in (WIN, TIE, LOSS, ERROR):
            counts[f"{rule}_{value}"] = sum(r[rule] == value for r in rows)
    # Position bias (Zheng et al.: GPT-4 favoured the first answer in 30% of pairs): the pairs
    # where the judge picked whichever answer it was shown first (or second) in both orders.
    orders = [(r["candidate_first_outcome"], r["reference_first_outcome"]) for r in rows]
    counts["favoured_first_shown"] = orders.count((WIN, LOSS))
    counts["favoured_second_shown"] = orders.count((LOSS, WIN))
    return counts
