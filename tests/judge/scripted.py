"""A scripted judge LLM: answers each request by a named rule and records what it was asked."""

from __future__ import annotations

import re
from collections.abc import Sequence

from imitate.llm.base import GenerationRequest, LogprobsUnavailable

_REPLY = re.compile(
    r"\[Reply A\]\n(.*?)\n\[End of Reply A\].*?\[Reply B\]\n(.*?)\n\[End of Reply B\]", re.S
)


def shown_replies(request: GenerationRequest) -> tuple[str, str]:
    """The two replies a pairwise judge request shows, as (A, B)."""
    found = _REPLY.search(request.messages[-1]["content"])
    assert found, "not a pairwise judge request"
    return found.group(1), found.group(2)


def _prefer(marker: str, a: str, b: str) -> str:
    a_has, b_has = marker in a, marker in b
    if a_has == b_has:
        return "Both are alike. [[C]]"
    return "Reply A is better. [[A]]" if a_has else "Reply B is better. [[B]]"


RULES = {
    # position bias: always the first shown reply
    "always_first": lambda r: "The first one. [[A]]",
    "always_tie": lambda r: "Equally good. [[C]]",
    "garbage": lambda r: "I cannot decide.",
    # prefers the reply containing the word GOOD (order-independent, a consistent judge)
    "prefer_good": lambda r: _prefer("GOOD", *shown_replies(r)),
    "prefer_longer": lambda r: (
        "[[A]]"
        if len(shown_replies(r)[0]) > len(shown_replies(r)[1])
        else "[[B]]"
        if len(shown_replies(r)[1]) > len(shown_replies(r)[0])
        else "[[C]]"
    ),  # fmt: skip
    # quotes the format first, decides at the end: the last marker must win
    "quotes_format": lambda r: "I answer [[A]] if A is better, [[B]] if B is. Verdict: [[B]]",
    # the tone judge: authoritative when the output says "clearly", garbage when it says "??"
    "tone": lambda r: (
        "??"
        if "??" in r.messages[-1]["content"]
        else ("[[YES]]" if "clearly" in r.messages[-1]["content"] else "[[NO]]")
    ),  # fmt: skip
}


class ScriptedLLM:
    """Implements imitate.llm.base.LLM; ``rule`` names an entry of RULES."""

    context_length = None

    def __init__(self, rule: str = "prefer_good") -> None:
        self.rule = RULES[rule]
        self.name = f"scripted:{rule}"
        self.requests: list[GenerationRequest] = []

    def fingerprint(self) -> str:
        return self.name

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[str]]:
        self.requests.extend(requests)
        return [[self.rule(request)] * request.n for request in requests]

    def next_token_logprobs(self, prompts, candidates):
        raise LogprobsUnavailable("the scripted judge gives no log-probs")

    def count_tokens(self, text: str) -> int | None:
        return None

    def usage_metrics(self) -> dict[str, float]:
        return {}

    def stored_usage(self, requests, since: float) -> dict[str, float]:
        return {}  # no request cache
