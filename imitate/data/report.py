"""Counts of what the data pipeline recovered, skipped and dropped, so nothing is lost silently."""

from __future__ import annotations

import logging
from collections import Counter

log = logging.getLogger(__name__)

_EXAMPLES_LOGGED_PER_REASON = 3


class DataReport:
    """Tallies pipeline events (``skipped_<reason>``, ``dropped_<reason>``, ``recovered_...``).

    Every skip is counted; the first few of each reason are also logged with where they happened.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def skip(self, reason: str, where: str, detail: str = "") -> None:
        key = f"skipped_{reason}"
        self.counts[key] += 1
        if self.counts[key] <= _EXAMPLES_LOGGED_PER_REASON:
            log.warning("skipped (%s) at %s%s", reason, where, f": {detail}" if detail else "")

    def drop(self, reason: str, n: int = 1) -> None:
        self.counts[f"dropped_{reason}"] += n
