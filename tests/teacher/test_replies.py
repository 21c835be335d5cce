"""Teacher replies parsed into QA pairs: every shape we ask for or see, malformed attempts named."""

from __future__ import annotations

from imitate.teacher import replies
from imitate.teacher.replies import Candidate, parse_pairs


def test_one_line_and_two_line_pairs_numbered_bulleted_and_bold() -> None:
    reply = """Here are new pairs:
1. Q: who wrote the novel dune A: Frank Herbert
- **Q:** when did the berlin wall fall **A:** 1989
Question: what is the capital of peru
Answer: Lima
Q2: how many legs does a spider have | A2: eight
"""
    parsed = parse_pairs(reply)
    assert [(c.question, c.answer) for c in parsed.candidates] == [
        ("who wrote the novel dune", "Frank Herbert"),
        ("when did the berlin wall fall", "1989"),
        ("what is the capital of peru", "Lima"),
        ("how many legs does a spider have", "eight"),
    ]
    assert all(c.problem is None for c in parsed.candidates)
    assert parsed.unparsed_lines == 1  # the chatter line


def test_json_lines_and_a_fenced_json_array() -> None:
    lines = (
        '{"question": "who sang purple rain", "answer": ["Prince", "Prince and the Revolution"]}\n'
    )
    lines += '{"Q": "how tall is k2", "A": "8,611 m"},\n'
    assert parse_pairs(lines).candidates == [
        Candidate("who sang purple rain", "Prince"),
        Candidate("how tall is k2", "8,611 m"),
    ]
    fenced = '```json\n[{"question": "who painted guernica", "answer": "Picasso"}, 7]\n```'
    assert parse_pairs(fenced).candidates == [
        Candidate("who painted guernica", "Picasso"),
        Candidate("", "", replies.NOT_A_PAIR_OBJECT),
    ]


def test_malformed_and_partial_replies_are_named_not_fatal() -> None:
    reply = """Q: a question whose answer never came
Q: who discovered penicillin A: Alexander Fleming
A: an answer on its own
Q: A: nothing
Q: what is the tallest mountain A:
{"question": "cut off by max_new_tok
Q: the reply ends here"""
    problems = [c.problem for c in parse_pairs(reply).candidates]
    assert problems == [
        replies.QUESTION_WITHOUT_ANSWER,
        None,
        replies.ANSWER_WITHOUT_QUESTION,
        replies.EMPTY_QUESTION,
        replies.EMPTY_ANSWER,
        replies.UNREADABLE_JSON_PAIR,
        replies.QUESTION_WITHOUT_ANSWER,
    ]


def test_a_reply_with_no_pairs_is_all_unparsed() -> None:
    parsed = parse_pairs("I'm sorry, I can't help with that.\n\nMaybe later.")
    assert parsed.candidates == [] and parsed.unparsed_lines == 2
    assert parse_pairs("") == replies.ParsedReply([], 0)
