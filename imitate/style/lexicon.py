"""Authoritative tone without a judge: hedges vs boosters, counted from fixed word lists.

The lists are single-word and multi-word items drawn from the hedge and booster items of
K. Hyland, *Metadiscourse: Exploring Interaction in Writing* (Continuum, 2005), Appendix 1
("Metadiscourse items investigated"), trimmed to forms that are unambiguous in chat replies
(e.g. "about" and "would" left out: mostly not hedges there). A reply reads as authoritative when
it uses no more hedges than boosters. This is a transparent proxy, reported under
``style/authoritative_lexicon`` and never mixed with the judge's ``style/authoritative_judge``,
and only on request (``style=lexicon``): it measures hedging, and ChatGPT-style replies hedge a
lot while sounding assured, so it ranks real models against the paper's judged authority
(FastChat's Vicuna-80 answers: LLaMA-13B 61%, Vicuna-13B 41%, ChatGPT 46%; paper 57% -> 98%).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEDGES = (
    "almost", "apparent", "apparently", "approximately", "argue", "argued", "assume", "assumed",
    "broadly", "certain extent", "could", "couldn't", "doubt", "doubtful", "essentially",
    "estimate", "estimated", "fairly", "feel", "frequently", "generally", "guess", "i believe",
    "i think", "in general", "in most cases", "in my opinion", "in my view", "indicate", "largely",
    "likely", "mainly", "may", "maybe", "might", "mostly", "often", "on the whole", "perhaps",
    "plausible", "plausibly", "possible", "possibly", "presumably", "probable", "probably",
    "quite", "rather", "relatively", "roughly", "seem", "seemed", "seems", "somewhat", "suggest",
    "suggests", "suppose", "supposed", "tend", "tends", "to my knowledge", "typically",
    "uncertain", "unclear", "unlikely", "usually",
)  # fmt: skip
BOOSTERS = (
    "actually", "always", "beyond doubt", "certainly", "clearly", "conclusively", "decidedly",
    "definitely", "demonstrate", "demonstrates", "doubtless", "establish", "established",
    "evident", "evidently", "in fact", "incontestably", "indeed", "indisputable", "indisputably",
    "know", "known", "must", "never", "no doubt", "obvious", "obviously", "of course", "prove",
    "proves", "realize", "really", "shows", "sure", "surely", "undeniably", "undisputedly",
    "undoubtedly", "without doubt",
)  # fmt: skip


def _pattern(items: tuple[str, ...]) -> re.Pattern:
    # Longest first so "in general" is not also counted as a shorter item; word boundaries both ends.
    alternatives = sorted(items, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, alternatives)) + r")\b", re.IGNORECASE)


_HEDGE, _BOOSTER = _pattern(HEDGES), _pattern(BOOSTERS)


@dataclass(frozen=True)
class ToneCounts:
    hedges: int
    boosters: int

    @property
    def authoritative(self) -> bool:
        """No more hedges than boosters (a reply with neither does not hedge: authoritative)."""
        return self.hedges <= self.boosters


def tone_counts(text: str) -> ToneCounts:
    """Hedge and booster items in ``text`` (case-insensitive, whole words)."""
    return ToneCounts(len(_HEDGE.findall(text)), len(_BOOSTER.findall(text)))
