"""Per-reply style features for Table 2: lists, a closing summary paragraph, word unigrams, tone words.

Each detector is one documented rule so a reader can check any verdict by eye.
"""

from __future__ import annotations

import re
from collections import Counter

# A list item is a line that opens with a bullet (-, *, +, •), a number ("1." / "1)") or a single
# letter ("a." / "B)"), then whitespace and text ("1. **Title**: ..." is an item).
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|[A-Za-z][.)])\s+\S", re.MULTILINE)
MIN_LIST_ITEMS = 2  # one numbered line is a sentence, not a list

# Openings of a closing summary paragraph (matched case-insensitively at the paragraph's start,
# after markdown emphasis and heading marks): the phrases ChatGPT uses to wrap up.
SUMMARY_OPENINGS = (
    "in summary",
    "in conclusion",
    "overall",
    "to summarize",
    "to summarise",
    "to sum up",
    "in short",
    "in brief",
    "all in all",
    "ultimately",
    "in essence",
    "summary:",
    "conclusion:",
    "tl;dr",
)
_SUMMARY_OPENING = re.compile(
    r"(?:" + "|".join(map(re.escape, SUMMARY_OPENINGS)) + r")(?=\W|$)", re.IGNORECASE
)  # whole phrases: "Overallness" does not open a summary
_MARKUP = re.compile(r"^[\s#*_>]+")
_WORD = re.compile(r"\w+(?:'\w+)?")


def has_list(text: str) -> bool:
    """True when at least two lines open like list items: bullets, numbers or letters (see _LIST_ITEM)."""
    return len(_LIST_ITEM.findall(text)) >= MIN_LIST_ITEMS


def paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines; a reply with no blank line is split at line breaks."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    if len(blocks) == 1:
        blocks = [line.strip() for line in blocks[0].splitlines() if line.strip()]
    return blocks


def has_summary_paragraph(text: str) -> bool:
    """True when the reply has 2+ paragraphs and the last one opens with a SUMMARY_OPENINGS phrase."""
    blocks = paragraphs(text)
    if len(blocks) < 2:
        return False
    return bool(_SUMMARY_OPENING.match(_MARKUP.sub("", blocks[-1])))


def words(text: str) -> list[str]:
    """Lower-cased word unigrams (letters, digits, underscores; an inner apostrophe kept: don't)."""
    return _WORD.findall(text.lower())


def unigram_f1(output: str, reference: str) -> float:
    """F1 of the multiset overlap of lower-cased word unigrams, in [0, 1]; 0 when either is empty."""
    out, ref = Counter(words(output)), Counter(words(reference))
    overlap = sum((out & ref).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(out.values())
    recall = overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)
