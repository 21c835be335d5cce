"""The counts a generation job keeps across runs, so its manifest always adds up."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from imitate.llm.base import LLM, GenerationRequest
from imitate.metrics import LLM_COST_USD, LLM_REQUESTS

log = logging.getLogger(__name__)


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


def usage_before(
    llm: LLM, earlier: Mapping | None, uncommitted: Sequence[GenerationRequest]
) -> dict[str, float]:
    """The ledger of earlier runs: their last commit's, plus what a killed run paid after it.

    A run sends only the chunk after its last commit, so the answers its kill kept from the
    manifest are those of `uncommitted` that the request cache stored after that commit.
    """
    if not earlier:
        return {}
    recovered = llm.stored_usage(uncommitted, since=earlier.get("committed_at", float("inf")))
    if recovered.get(LLM_REQUESTS):
        log.info(
            "counted %d answers ($%.6f) an interrupted run paid for after its last commit",
            recovered[LLM_REQUESTS],
            recovered.get(LLM_COST_USD, 0.0),
        )
    return add_usage(earlier.get("usage", {}), recovered)
