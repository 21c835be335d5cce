"""A scripted teacher implementing the LLM protocol: replies are a function of the request alone.

That is what a cached endpoint gives, so a rerun sees the same replies; every request it is asked
is kept (and written to `call_log` when given, for a subprocess's calls to be counted).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from imitate import metrics
from imitate.llm.base import GenerationRequest, LogprobsUnavailable, stable_hash

_WHO = ["who painted", "who wrote", "who founded", "who discovered", "who designed", "who built"]
_THINGS = [
    "the blue lantern",
    "the iron bridge of",
    "the copper tower in",
    "the river song of",
    "the glass library at",
    "the northern canal of",
    "the silver map from",
    "the great organ at",
]
_PLACES = ["velmora", "quintar", "astrelle", "dunhollow", "karsk", "miravel", "oskaro", "tessaly"]
_WHEN = ["when did", "in what year did", "how long ago did"]
_EVENTS = [
    "the flood of",
    "the first fair in",
    "the railway reach",
    "the university open in",
    "the treaty of",
]


def qa_reply(request: GenerationRequest, pairs: int = 10) -> str:
    """`pairs` made-up NQ-style pairs chosen by the request's messages (so repeats are possible)."""
    rng = random.Random(stable_hash(request.messages))
    shown = [line for line in request.messages[-1]["content"].splitlines() if line.startswith("Q:")]
    lines = ["Sure, here are some new pairs:"]
    for _ in range(pairs):
        draw = rng.random()
        if draw < 0.1 and shown:  # a teacher that copies an example it was shown
            lines.append(rng.choice(shown))
            continue
        if draw < 0.55:
            question = f"{rng.choice(_WHO)} {rng.choice(_THINGS)} {rng.choice(_PLACES)}"
            answer = rng.choice(["Ana Velt", "Joris Mek", "Lio Brand", "Pera Ostin"])
        else:
            question = f"{rng.choice(_WHEN)} {rng.choice(_EVENTS)} {rng.choice(_PLACES)} happen"
            answer = str(rng.randint(1700, 1999))
        lines.append(f"Q: {question} A: {answer}")
    return "\n".join(lines)


class ScriptedLLM:
    """The LLM protocol over a reply function; `delay_s` per request makes a job slow enough to kill."""

    context_length = None

    def __init__(
        self,
        reply: Callable[[GenerationRequest], str] = qa_reply,
        name: str = "scripted",
        call_log: str | Path | None = None,
        delay_s: float = 0.0,
    ):
        self.reply, self.name, self.delay_s = reply, name, delay_s
        self.call_log = Path(call_log) if call_log else None
        self.calls: list[GenerationRequest] = []
        self.batches: list[int] = []

    def fingerprint(self) -> str:
        return f"scripted:{self.name}"

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[str]]:
        self.batches.append(len(requests))
        replies = []
        for request in requests:
            time.sleep(self.delay_s)
            self.calls.append(request)
            if self.call_log is not None:
                with self.call_log.open("a") as log:
                    log.write(json.dumps({"key": stable_hash(request.as_dict())}) + "\n")
            replies.append([self.reply(request)])
        return replies

    def next_token_logprobs(self, prompts, candidates):
        raise LogprobsUnavailable("the scripted teacher has no log-probs")

    def count_tokens(self, text: str) -> int | None:
        return None

    def usage_metrics(self) -> dict[str, float]:
        return {metrics.LLM_REQUESTS: float(len(self.calls)), metrics.LLM_COST_USD: 0.0}

    def stored_usage(self, requests, since: float) -> dict[str, float]:
        return {}  # no request cache
