"""The counts a generation job keeps across runs, so its manifest always adds up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class Tally:
    """`candidates == accepted + sum(rejected.values())`; `requests` = replies judged so far."""

    requests: int = 0
    replies_without_pairs: int = 0  # replies in which no pair was even attempted
    unparsed_lines: int = 0
    candidates: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)

    @classmethod
    def from_manifest(cls, manifest: Mapping) -> Tally:
        counts = manifest.get("counts", {})
        return cls(
            requests=counts.get("requests", 0),
            replies_without_pairs=counts.get("replies_without_pairs", 0),
            unparsed_lines=counts.get("unparsed_lines", 0),
            candidates=counts.get("candidates", 0),
            accepted=counts.get("accepted", 0),
            rejected=Counter(counts.get("rejected", {})),
        )

    def add(self, reason: str | None) -> None:
        """One judged candidate: accepted (None) or rejected for `reason`."""
        self.candidates += 1
        if reason is None:
            self.accepted += 1
        else:
            self.rejected[reason] += 1

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "replies_without_pairs": self.replies_without_pairs,
            "unparsed_lines": self.unparsed_lines,
            "candidates": self.candidates,
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items())),
        }


def add_usage(earlier: Mapping[str, float], current: Mapping[str, float]) -> dict[str, float]:
    """The ledger of earlier runs (from the manifest) plus this run's `llm.usage_metrics()`."""
    return {
        k: float(earlier.get(k, 0.0)) + float(current.get(k, 0.0)) for k in {*earlier, *current}
    }
