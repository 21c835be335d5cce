"""Question-answer pairs out of a teacher's free-text reply, with every malformed attempt named.

Accepted shapes: `Q: ... A: ...` on one line or on two (also `Question:`/`Answer:`, numbered or
bulleted, bold markers), JSON lines `{"question": ..., "answer": ...}`, or one JSON array of such
objects (code fences allowed). Anything else is chatter: counted as unparsed lines, never fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Malformed-pair reasons: each is a rejection reason in the job's manifest.
QUESTION_WITHOUT_ANSWER = "question_without_answer"
ANSWER_WITHOUT_QUESTION = "answer_without_question"
EMPTY_QUESTION = "empty_question"
EMPTY_ANSWER = "empty_answer"
UNREADABLE_JSON_PAIR = "unreadable_json_pair"  # a `{...}` line cut short or not JSON
NOT_A_PAIR_OBJECT = "not_a_pair_object"  # an element of a JSON array that is not an object

_LEAD = r"^\s*(?:[-*•]\s*|\(?\d+\s*[.)]\s*)?(?:\*\*|__)?"
_MARKER_END = r"\s*\d*\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?"
_QUESTION_LINE = re.compile(_LEAD + r"(?:q|question)" + _MARKER_END, re.IGNORECASE)
_ANSWER_LINE = re.compile(_LEAD + r"(?:a|answer)" + _MARKER_END, re.IGNORECASE)
_INLINE_ANSWER = re.compile(
    r"(?:^|\s|[|;,–—-])\s*(?:\*\*|__)?(?:a|answer)" + _MARKER_END,
    re.IGNORECASE,
)
_FENCE = re.compile(r"^\s*```")
_TRIM = " \t\"'`*_|;–—-"


@dataclass(frozen=True)
class Candidate:
    """One attempted pair; `problem` names what is wrong with it, None when it is well formed."""

    question: str
    answer: str
    problem: str | None = None


@dataclass(frozen=True)
class ParsedReply:
    candidates: list[Candidate]
    unparsed_lines: int  # non-blank lines that were neither a pair nor part of one


def parse_pairs(reply: str) -> ParsedReply:
    """Every attempted pair in `reply`, in order."""
    lines = [line for line in reply.splitlines() if not _FENCE.match(line)]
    whole = _json_array(lines)
    if whole is not None:
        return ParsedReply([_from_object(item) for item in whole], 0)
    candidates: list[Candidate] = []
    pending: str | None = None  # a question still waiting for its answer line
    unparsed = 0
    for line in lines:
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            _close(pending, candidates)
            pending = None
            item = _json_object(line)
            candidates.append(
                Candidate("", "", UNREADABLE_JSON_PAIR) if item is None else _from_object(item)
            )
        elif marker := _QUESTION_LINE.match(line):
            _close(pending, candidates)
            question, answer = _split_inline(line[marker.end() :])
            pending = question if answer is None else None
            if answer is not None:
                candidates.append(_checked(question, answer))
        elif marker := _ANSWER_LINE.match(line):
            answer = _clean(line[marker.end() :])
            if pending is None:
                candidates.append(Candidate("", answer, ANSWER_WITHOUT_QUESTION))
            else:
                candidates.append(_checked(pending, answer))
                pending = None
        else:
            unparsed += 1
    _close(pending, candidates)
    return ParsedReply(candidates, unparsed)


def _close(pending: str | None, candidates: list[Candidate]) -> None:
    """A question whose answer never came (the next pair began, or the reply ended)."""
    if pending is not None:
        candidates.append(Candidate(pending, "", QUESTION_WITHOUT_ANSWER))


def _split_inline(text: str) -> tuple[str, str | None]:
    found = _INLINE_ANSWER.search(text)
    if found is None:
        return _clean(text), None
    return _clean(text[: found.start()]), _clean(text[found.end() :])


def _checked(question: str, answer: str) -> Candidate:
    if not question:
        return Candidate(question, answer, EMPTY_QUESTION)
    if not answer:
        return Candidate(question, answer, EMPTY_ANSWER)
    return Candidate(question, answer)


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(_TRIM).strip()


def _from_object(item: object) -> Candidate:
    if not isinstance(item, dict):
        return Candidate("", "", NOT_A_PAIR_OBJECT)
    lowered = {str(key).lower(): value for key, value in item.items()}
    question = _text(lowered.get("question", lowered.get("q")))
    answer = _text(lowered.get("answer", lowered.get("a")))
    if question and not answer and "answer" not in lowered and "a" not in lowered:
        return Candidate(question, "", QUESTION_WITHOUT_ANSWER)
    if answer and not question and "question" not in lowered and "q" not in lowered:
        return Candidate("", answer, ANSWER_WITHOUT_QUESTION)
    return _checked(question, answer)


def _text(value: object) -> str:
    """A string field; NQ-style answer lists give their first answer."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    return _clean(value) if isinstance(value, str) else ""


def _json_array(lines: list[str]) -> list | None:
    text = "\n".join(lines).strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _json_object(line: str) -> dict | None:
    try:
        value = json.loads(line.strip().rstrip(","))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
