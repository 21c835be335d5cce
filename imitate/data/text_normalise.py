"""The SQuAD / NQ-open answer normalisation, shared by NQ scoring and the teacher's duplicate checks.

It lives in the data layer so that both ``imitate.eval.nq`` (exact match) and ``imitate.teacher``
(is a generated question an eval question?) compare text the same way without importing eval.
"""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and articles, squeeze whitespace (SQuAD / NQ-open evaluation)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())
