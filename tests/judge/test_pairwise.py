"""The pairwise judge with a scripted judge LLM: both orders, flips, ties, garbage, the rules."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.hashing import stable_hash
from imitate.judge.outcomes import judge_metrics, outcome_counts
from imitate.judge.pairwise import PairwiseJudge
from imitate.llm.verdicts import ERROR, VerdictParser
from imitate.reply_pair import ReplyPair
from tests.conftest import REPO
from tests.judge.scripted import ScriptedLLM, shown_replies

PAIRS = [
    ReplyPair("1", "q1", "GOOD candidate one", "reference one"),
    ReplyPair("2", "q2", "candidate two", "GOOD reference two"),
    ReplyPair("3", "q3", "GOOD both", "GOOD both too"),
]


def judge_with(rule: str) -> PairwiseJudge:
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf/judge/pairwise.yaml"))
    return PairwiseJudge(ScriptedLLM(rule), **cfg)


def test_every_pair_is_asked_in_both_orders() -> None:
    judge = judge_with("prefer_good")
    judge.judge(PAIRS)
    asked = [shown_replies(r) for r in judge.llm.requests]
    assert len(asked) == 2 * len(PAIRS)
    for index, pair in enumerate(PAIRS):
        assert asked[2 * index] == (pair.output, pair.reference)
        assert asked[2 * index + 1] == (pair.reference, pair.output)
    assert all(pair.prompt in r.messages[-1]["content"] for pair, r in zip(PAIRS, judge.llm.requests[::2], strict=True))  # fmt: skip
    assert judge.llm.requests[0].messages[0]["role"] == "system"
    assert judge.llm.requests[0].temperature == 0.0


def test_a_consistent_judge_gives_wins_losses_and_ties() -> None:
    rows = judge_with("prefer_good").judge(PAIRS)
    assert [r["outcome"] for r in rows] == ["win", "loss", "tie"]
    assert [r["conservative_outcome"] for r in rows] == ["win", "loss", "tie"]
    values = judge_metrics(rows)
    assert values[metrics.JUDGE_WIN_RATE] == pytest.approx(1 / 3)
    assert values[metrics.JUDGE_LOSS_RATE] == pytest.approx(1 / 3)
    assert values[metrics.JUDGE_TIE_RATE] == pytest.approx(1 / 3)
    assert values[metrics.JUDGE_PREFERENCE] == pytest.approx(2 / 3)
    assert values[metrics.JUDGE_CONSISTENCY] == 1.0
    assert values[metrics.JUDGE_UNPARSEABLE] == 0.0


def test_a_position_biased_judge_flips_every_pair() -> None:
    rows = judge_with("always_first").judge(PAIRS)
    assert all(r["candidate_first_outcome"] == "win" for r in rows)
    assert all(r["reference_first_outcome"] == "loss" for r in rows)
    values = judge_metrics(rows)
    assert values[metrics.JUDGE_CONSISTENCY] == 0.0  # every pair flipped with the order
    assert values[metrics.JUDGE_TIE_RATE] == 1.0  # a flip is a tie
    assert values[metrics.JUDGE_CONSERVATIVE_WIN_RATE] == 0.0
    assert values[metrics.JUDGE_PREFERENCE] == 1.0
    counts = outcome_counts(rows)
    assert (counts["favoured_first_shown"], counts["favoured_second_shown"]) == (3, 0)


def test_win_and_tie_is_a_balanced_win_but_a_conservative_tie() -> None:
    class HalfTie(ScriptedLLM):
        def generate(self, requests):
            # candidate_first: [[A]] (win); reference_first: [[C]] (tie)
            return [["[[A]]"] if i % 2 == 0 else ["[[C]]"] for i, _ in enumerate(requests)]

    judge = judge_with("prefer_good")
    judge.llm = HalfTie()
    [row] = judge.judge(PAIRS[:1])
    assert (row["outcome"], row["conservative_outcome"], row["consistent"]) == ("win", "tie", False)
    assert row["score"] == 0.75


def test_ties_and_garbage() -> None:
    ties = judge_metrics(judge_with("always_tie").judge(PAIRS))
    assert ties[metrics.JUDGE_TIE_RATE] == 1.0 and ties[metrics.JUDGE_CONSISTENCY] == 1.0
    rows = judge_with("garbage").judge(PAIRS)
    assert all(r["outcome"] == ERROR for r in rows)  # kept as error rows, shown in the table
    values = judge_metrics(rows)
    assert values == {metrics.JUDGE_UNPARSEABLE: 1.0}  # no rate from unparseable verdicts
    assert outcome_counts(rows)["outcome_error"] == 3


def test_only_a_marker_alone_on_the_last_line_counts() -> None:
    parser = VerdictParser({"A": "first", "B": "second", "C": "tie"})
    assert parser.parse("I answer [[A]] if A is better.\nVerdict: [[B]]") == "second"
    assert parser.parse("Reasons.\n\n  **Final verdict:** [[A]].  \n\n") == "first"
    assert parser.parse("[[ c ]]") == "tie"
    assert parser.parse("[[D]]") == ERROR
    assert parser.parse("A is better") == ERROR
    assert parser.parse("") == ERROR
    assert parser.parse("I answer [[A]] if A is better. Verdict: [[B]]") == ERROR  # not alone
    assert parser.parse("[[A]]\nThat is my verdict.") == ERROR  # not last
    assert parser.parse("[[A]] [[B]]") == ERROR  # two markers: no decision
    assert parser.parse("tag 0123abcd\n[[A]]", nonce="0123abcd") == ERROR  # an echo of the prompt
    rows = judge_with("quotes_format").judge(PAIRS[:1])
    assert (
        rows[0]["candidate_first_outcome"] == "loss" and rows[0]["reference_first_outcome"] == "win"
    )
    with pytest.raises(ValueError, match="exactly one capture group"):
        VerdictParser({"A": "first"}, marker=r"\[\[[AB]\]\]")


def test_labels_must_mean_first_second_or_tie() -> None:
    with pytest.raises(ValueError, match="first, second or tie"):
        PairwiseJudge(ScriptedLLM(), "{question}{answer_a}{answer_b}", {"A": "left"})


def test_requests_are_deterministic() -> None:
    first = [judge_with("prefer_good").request(p, o).as_dict() for p in PAIRS for o in ("candidate_first", "reference_first")]  # fmt: skip
    second = [judge_with("prefer_good").request(p, o).as_dict() for p in PAIRS for o in ("candidate_first", "reference_first")]  # fmt: skip
    assert [stable_hash(r) for r in first] == [stable_hash(r) for r in second]
    assert len({stable_hash(r) for r in first}) == len(first)


def test_answers_with_braces_pass_through_the_template() -> None:
    judge = judge_with("prefer_good")
    request = judge.request(
        ReplyPair("x", "q {not a field}", "dict = {'a': 1}", "{}"), "candidate_first"
    )
    assert "dict = {'a': 1}" in request.messages[-1]["content"]
