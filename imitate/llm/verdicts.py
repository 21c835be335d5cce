"""Verdict markers in a judge's reply: ``[[A]]``, ``[[B]]``, ``[[C]]`` (tie), as configured.

The **last** marker in the reply wins: judges reason first and state the verdict at the end, and
their reasoning often quotes the format ("... output [[A]] if ...") before deciding. A reply with
no marker, or whose last marker is not a configured label, is unparseable: ``ERROR``, kept and
counted, never guessed. It sits in the llm layer because two packages parse judge replies: the
pairwise judge (imitate.judge) and the authoritative-tone metric (imitate.style), which the judge
imports, so the parser cannot live in either without an import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ERROR = "error"
DEFAULT_MARKER = r"\[\[\s*([A-Za-z]+)\s*\]\]"


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

    def parse(self, reply: str) -> str:
        """The outcome of the last marker in ``reply``, or ERROR."""
        found = self.marker.findall(reply or "")
        if not found:
            return ERROR
        return self.labels.get(found[-1].strip().upper(), ERROR)
