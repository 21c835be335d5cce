"""Table 2's style metrics on hand-made replies whose values are known."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.reply_pair import ReplyPair
from imitate.style.authoritative import judge_authoritative
from imitate.style.detectors import has_list, has_summary_paragraph, unigram_f1, words
from imitate.style.lexicon import tone_counts
from imitate.style.similarity import style_metrics, style_rows
from tests.judge.scripted import ScriptedLLM


@pytest.mark.parametrize(
    "text",
    [
        "Tips:\n- sleep\n- eat",
        "* one\n* two",
        "• one\n• two",
        "Steps:\n1. Open it.\n2. Close it.",
        "1) first\n2) second",
        "Options:\na. tea\nb. coffee",
        "A) yes\nB) no",
        "1. **Plan**: write it down\n2. **Do**: follow it",
    ],
)
def test_lists_are_detected(text: str) -> None:
    assert has_list(text)


@pytest.mark.parametrize(
    "text",
    [
        "1. Only one numbered line is a sentence.",
        "Plan A. Then plan B. Nothing else.",
        "We met in 2023. It was fine.\nA quiet year.",
        "-not a bullet\n-without a space",
    ],
)
def test_non_lists_are_not(text: str) -> None:
    assert not has_list(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Intro.\n\nDetails here.\n\nIn summary, do this.", True),
        ("Intro.\n\n**In conclusion**, that is it.", True),
        ("Intro.\n\n## Overall\nGood.", True),
        ("Intro line\nOverall, one block without blank lines.", True),
        ("Overall, a one-paragraph reply is no closing summary.", False),
        ("Intro.\n\nIn summary, this sits in the middle.\n\nThen more text.", False),
        ("Intro.\n\nTo sum up: short.", True),
        ("Intro.\n\nOverallness is not the word Overall.", False),
    ],
)
def test_summary_paragraph(text: str, expected: bool) -> None:
    assert has_summary_paragraph(text) is expected


def test_unigram_f1_is_over_lower_cased_word_multisets() -> None:
    assert words("Don't STOP, now!") == ["don't", "stop", "now"]
    assert unigram_f1("The cat sat", "the CAT ran") == pytest.approx(2 / 3)
    assert unigram_f1("a a b", "a b b") == pytest.approx(2 / 3)  # a:1 and b:1 overlap
    assert unigram_f1("a b", "a b c d") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert unigram_f1("", "anything") == 0.0


def test_lexicon_counts_hedges_and_boosters() -> None:
    hedged = tone_counts("This may possibly work, I think.")
    assert (hedged.hedges, hedged.boosters) == (3, 0) and not hedged.authoritative
    firm = tone_counts("This clearly works. In fact, it must.")
    assert (firm.hedges, firm.boosters) == (0, 3) and firm.authoritative
    assert tone_counts("Plain statement.").authoritative  # no hedging at all
    assert tone_counts("Mayor Smith").hedges == 0  # whole words only


PAIRS = [
    # reference has a list and a summary; output has both
    ReplyPair("1", "p1", "- a\n- b\n\nIn summary, ok.", "- a\n- c\n\nOverall, fine."),
    # reference has a list; output does not
    ReplyPair("2", "p2", "just prose here", "1. x\n2. y"),
    # reference has neither; output has a list (does not count: the teacher had none)
    ReplyPair("3", "p3", "* q\n* r", "plain words"),
    ReplyPair("4", "p4", "one two three four five six", "one two"),
]


def test_style_metrics_on_hand_made_pairs() -> None:
    rows = style_rows(PAIRS, lexicon_tone=True)
    values = style_metrics(rows)
    assert values[metrics.STYLE_LIST] == pytest.approx(50.0)  # 1 of the 2 teacher lists
    assert values[metrics.STYLE_SUMMARY] == pytest.approx(100.0)  # 1 of 1
    f1 = [unigram_f1(p.output, p.reference) for p in PAIRS]
    assert values[metrics.STYLE_UNIGRAM_F1] == pytest.approx(100 * sum(f1) / 4)
    out_words = [len(words(p.output)) for p in PAIRS]
    ref_words = [len(words(p.reference)) for p in PAIRS]  # list numbers are words too
    assert (out_words, ref_words) == ([5, 3, 2, 6], [4, 4, 2, 2])
    import numpy as np

    expected_r = float(np.corrcoef(out_words, ref_words)[0, 1])
    assert values[metrics.STYLE_LENGTH_PEARSON] == pytest.approx(expected_r)
    assert values[metrics.STYLE_AUTHORITATIVE_LEXICON] == pytest.approx(100.0)
    assert metrics.STYLE_AUTHORITATIVE_JUDGE not in values  # no judge configured: never filled in
    assert metrics.STYLE_AUTHORITATIVE_LEXICON not in style_metrics(style_rows(PAIRS))  # opt-in


def test_undefined_metrics_are_left_out_not_zero() -> None:
    rows = style_rows([ReplyPair("1", "p", "same length", "no list")])
    values = style_metrics(rows)
    assert metrics.STYLE_LIST not in values and metrics.STYLE_LENGTH_PEARSON not in values
    with pytest.raises(ValueError, match="no prompts"):
        style_metrics([])


def test_length_pearson_known_value() -> None:
    pairs = [
        ReplyPair(str(i), "p", " ".join(["w"] * o), " ".join(["w"] * r))
        for i, (o, r) in enumerate([(1, 1), (2, 3), (3, 2)])
    ]
    assert style_metrics(style_rows(pairs))[metrics.STYLE_LENGTH_PEARSON] == pytest.approx(0.5)


def test_authoritative_judge_counts_unparseable_apart() -> None:
    from omegaconf import OmegaConf

    from tests.conftest import REPO

    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf/style/llm_judge.yaml"))[
        "authoritative"
    ]
    pairs = [
        ReplyPair("1", "q", "It clearly works.", "ref"),
        ReplyPair("2", "q", "It might work.", "ref"),
        ReplyPair("3", "q", "?? unreadable", "ref"),
    ]
    llm = ScriptedLLM("tone")
    verdicts = judge_authoritative(llm, pairs, cfg)
    assert [v["authoritative"] for v in verdicts] == [True, False, None]
    assert all("It clearly works." in r.messages[-1]["content"] for r in llm.requests[:1])
    values = style_metrics(style_rows(pairs), [v["authoritative"] for v in verdicts])
    assert values[metrics.STYLE_AUTHORITATIVE_JUDGE] == pytest.approx(50.0)  # 1 of the 2 parsed
