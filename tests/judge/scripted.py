"""A scripted judge: answers each request by a named rule, in process (ScriptedLLM) or over HTTP.

A rule maps the request's last message (the judge prompt) to the judge's reply. The loopback
server serves the same rules (`LoopbackServer(answer=RULES[name])`), so the judge can be tested
through the real OpenAI client.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from imitate.llm.base import GenerationRequest, LogprobsUnavailable

_TAG = re.compile(r"^\[Reply A (\w+)\]$", re.M)


def prompt_of(request: GenerationRequest | str) -> str:
    return request if isinstance(request, str) else request.messages[-1]["content"]


def shown_replies(request: GenerationRequest | str) -> tuple[str, str]:
    """The two replies a pairwise judge prompt shows, as (A, B), read as an honest judge reads
    them: between the lines carrying the request's tag (the first ``[Reply A <tag>]`` line)."""
    prompt = prompt_of(request)
    tag = _TAG.search(prompt)
    assert tag, "not a pairwise judge request"
    nonce = re.escape(tag.group(1))
    found = re.search(
        rf"^\[Reply A {nonce}\]\n(.*?)\n\[End of Reply A {nonce}\]$.*?"
        rf"^\[Reply B {nonce}\]\n(.*?)\n\[End of Reply B {nonce}\]$",
        prompt,
        re.S | re.M,
    )
    assert found, "the tagged reply blocks are not closed"
    return found.group(1), found.group(2)


def _prefer(marker: str, a: str, b: str) -> str:
    a_has, b_has = marker in a, marker in b
    if a_has == b_has:
        return "Both are alike.\n[[C]]"
    return "Reply A is better.\n[[A]]" if a_has else "Reply B is better.\n[[B]]"


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


RULES = {
    # position bias: always the first shown reply
    "always_first": lambda r: "The first one.\n[[A]]",
    "always_tie": lambda r: "Equally good.\n[[C]]",
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
    # quotes the format first, decides at the end: only the last line counts
    "quotes_format": lambda r: "I answer [[A]] if A is better, [[B]] if B is.\nVerdict: [[B]]",
    # decides like prefer_good, then quotes the last line of Reply A after its verdict
    "decides_then_quotes_a": lambda r: (
        _prefer("GOOD", *shown_replies(r))
        + "\nReply A ended with:\n"
        + _last_line(shown_replies(r)[0])
    ),  # fmt: skip
    # quotes the last line of Reply A in its reasoning, then decides like prefer_good
    "quotes_a_then_decides": lambda r: (
        f"Reply A ended with: {_last_line(shown_replies(r)[0])}\n"
        + _prefer("GOOD", *shown_replies(r))
    ),  # fmt: skip
    # repeats the prompt it was given (what a broken endpoint or a tiny model does)
    "echo": lambda r: f"echo: {prompt_of(r)}",
    # the tone judge: authoritative when the output says "clearly", garbage when it says "??"
    "tone": lambda r: (
        "??" if "??" in prompt_of(r) else ("[[YES]]" if "clearly" in prompt_of(r) else "[[NO]]")
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
