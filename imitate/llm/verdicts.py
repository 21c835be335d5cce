"""Verdicts a judged text cannot steer: ``[[A]]``, ``[[B]]``, ``[[C]]`` (tie), as configured.

A judge request shows texts written by the models under judgement. Three rules keep those texts
from deciding the verdict:

* **a fixed final position**: the verdict is the judge's last non-empty line and that line holds
  nothing but one marker (markdown emphasis and a ``Verdict:`` prefix allowed). A marker anywhere
  else (the judge quoting the format, or quoting a reply) counts for nothing;
* **judged texts never hold a marker**: every marker in a shown text is broken up with a space
  (``[[A]]`` -> ``[ [A]]``) before the judge sees it, so a judge that ends by quoting a reply
  cannot end on a verdict the reply wrote;
* **delimiters the judged text cannot forge**: the texts sit between lines tagged with a nonce
  (``request_nonce``) that is a hash of everything the request shows, so a reply cannot contain
  its own nonce (that would need a sha256 fixed point), nor guess it without the other reply.
  A judge reply containing the nonce copied the prompt (an echo) and is unparseable.

Everything else is ``ERROR``: kept, counted (``judge/unparseable_fraction``), never guessed.

It sits in the llm layer because two packages parse judge replies: the pairwise judge
(imitate.judge) and the authoritative-tone metric (imitate.style), which the judge imports, so the
parser cannot live in either without an import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from imitate.hashing import stable_hash

ERROR = "error"
DEFAULT_MARKER = r"\[\[\s*([A-Za-z]+)\s*\]\]"
NONCE_CHARS = 16
# What may surround the marker on the verdict line: whitespace, markdown emphasis, a full stop.
_DECORATION = r"[\s*_`#>.]*"
_PREFIX = r"(?i:(?:final\s+)?verdict\s*:)"
_MAX_NEUTRALISE_PASSES = 8


def request_nonce(*shown: str) -> str:
    """The delimiter tag of one request: a hash of every text it shows (deterministic, unforgeable)."""
    return stable_hash(["imitate.judge.nonce", *shown])[:NONCE_CHARS]


class VerdictParser:
    """Maps a judge reply to one of the configured outcomes (e.g. first / second / tie) or ERROR."""

    def __init__(self, labels: Mapping[str, str], marker: str = DEFAULT_MARKER) -> None:
        if not labels:
            raise ValueError("judge verdict labels are empty; e.g. {A: first, B: second, C: tie}")
        self.labels = {str(k).upper(): str(v) for k, v in labels.items()}
        self.marker = re.compile(marker)
        if self.marker.groups != 1:
            raise ValueError(
                f"judge verdict marker {marker!r} must have exactly one capture group (the label)"
            )
        self._line = re.compile(
            rf"{_DECORATION}(?:{_PREFIX}{_DECORATION})?(?:{marker}){_DECORATION}"
        )

    def parse(self, reply: str, nonce: str | None = None) -> str:
        """The outcome named by ``reply``'s last non-empty line, or ERROR (also for an echo of the prompt)."""
        if nonce is not None and nonce in (reply or ""):
            return ERROR  # only the prompt holds the nonce: the judge repeated it
        lines = [line for line in (reply or "").splitlines() if line.strip()]
        found = self._line.fullmatch(lines[-1]) if lines else None
        if found is None:
            return ERROR
        return self.labels.get(found.group(1).strip().upper(), ERROR)

    def neutralise(self, text: str) -> str:
        """``text`` with every verdict marker broken up by a space, so it can never parse as one."""
        for _ in range(_MAX_NEUTRALISE_PASSES):
            if not self.marker.search(text):
                return text
            text = self.marker.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1:], text)
        raise ValueError(
            f"judge verdict marker {self.marker.pattern!r} still matches a text after "
            f"{_MAX_NEUTRALISE_PASSES} passes of breaking it up; use a marker like '[[A]]'"
        )
