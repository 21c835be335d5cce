"""The client interface every backend implements: generate, next-token log-probs, a fingerprint.

Eval tasks, the teacher (NQ-synthetic, collect) and the judge only ever see an `LLM`; whether it is
the in-process transformers model (`imitate.llm.hf`) or an OpenAI-compatible endpoint
(`imitate.llm.openai_client`) is a config choice (`conf/llm/`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

CHAT_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: chat `messages` (role/content dicts) or a raw `prompt`, never both.

    Texts come back without the stop sequence, cut at the first one (the OpenAI semantics).
    `n` samples per request; at temperature 0 they are identical and backends may return copies.
    """

    messages: tuple[Mapping[str, str], ...] | None = None
    prompt: str | None = None
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    n: int = 1
    # > 1: logits of tokens already in the sequence divided by it (CTRL). The in-process backend
    # applies it; endpoints decode without it (OpenAI's API refuses the field), logged once
    repetition_penalty: float = 1.0
    extra: Mapping[str, object] = field(default_factory=dict)  # backend-specific sampling options

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("GenerationRequest needs exactly one of `messages` or `prompt`")
        if self.messages is not None:
            object.__setattr__(self, "messages", tuple(dict(m) for m in self.messages))
            for number, message in enumerate(self.messages):
                if message.get("role") not in CHAT_ROLES or not isinstance(
                    message.get("content"), str
                ):
                    raise ValueError(
                        f"GenerationRequest.messages[{number}] = {message!r}: each message needs "
                        f"a role in {CHAT_ROLES} and a string content"
                    )
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.n < 1 or self.max_new_tokens < 1 or self.temperature < 0:
            raise ValueError(
                f"GenerationRequest: n={self.n} and max_new_tokens={self.max_new_tokens} must be "
                f">= 1 and temperature={self.temperature} >= 0"
            )

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    def as_dict(self) -> dict:
        """Every field, JSON-ready: what a request cache hashes."""
        data = asdict(self)
        data["messages"] = [dict(m) for m in self.messages] if self.messages else None
        data["stop"] = list(self.stop)
        data["extra"] = dict(self.extra)
        return data


class LogprobsUnavailable(RuntimeError):
    """The backend cannot give next-token log-probs (e.g. an endpoint that returns none)."""


class BudgetExceeded(RuntimeError):
    """The next request would pass `max_cost_usd`; everything finished before it is kept (cached)."""


def user_turn(content: str, system: str | None = None) -> tuple[dict[str, str], ...]:
    """Chat messages for one question: the user's turn, after a system prompt when there is one."""
    head = ({"role": "system", "content": system},) if system else ()
    return (*head, {"role": "user", "content": content})


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to (not including) the earliest of the stop sequences."""
    cut = len(text)
    for sequence in stop:
        if sequence and (found := text.find(sequence)) != -1:
            cut = min(cut, found)
    return text[:cut]


@runtime_checkable
class LLM(Protocol):
    """What every backend offers. Sizes and batching are the backend's business, not the caller's."""

    #: a short human-readable name for logs, tags and reports: "hf:<model path>", "openai:<model>"
    name: str

    @property
    def context_length(self) -> int | None:
        """Tokens the model attends over, or None when unknown (an endpoint with no configured length)."""
        ...

    def fingerprint(self) -> str:
        """Identifies the model behind the client (weights hash, or endpoint + model name).

        Eval results are cached under it; never contains a secret.
        """
        ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[str]]:
        """`request.n` texts per request, in request order."""
        ...

    def next_token_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """log p(candidate | prompt) for each raw prompt and each candidate string (e.g. " A").

        Each candidate must be a single token after the prompt. Raises LogprobsUnavailable where
        the backend cannot give them (the caller refuses the task rather than guess).
        """
        ...

    def count_tokens(self, text: str) -> int | None:
        """Tokens `text` encodes to as a raw prompt, or None when the backend has no tokenizer."""
        ...

    def usage_metrics(self) -> dict[str, float]:
        """The ledger so far under `imitate.metrics.LLM_*` names ({} for an in-process model)."""
        ...

    def stored_usage(self, requests: Sequence[GenerationRequest], since: float) -> dict[str, float]:
        """What answering `requests` was charged, for answers stored after `since` (time.time()).

        Read back from a persistent request cache ({} without one): a resumed job counts what a
        killed run paid for after its last commit.
        """
        ...
