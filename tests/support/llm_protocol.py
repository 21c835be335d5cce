"""What "is an LLM" means beyond method names: every member of the protocol, called, with its shape."""

from __future__ import annotations

import inspect

from imitate.llm.base import LLM, GenerationRequest

MEMBERS = ("context_length", "fingerprint", "generate", "next_token_logprobs", "count_tokens", "usage_metrics", "stored_usage")  # fmt: skip


def assert_implements_llm(client: object) -> None:
    """Each protocol method takes the protocol's parameters, and each member answers in its type."""
    assert {m for m in vars(LLM) if not m.startswith("_")} == set(MEMBERS)  # the list is complete
    for name in MEMBERS[1:]:
        wanted = list(inspect.signature(getattr(LLM, name)).parameters)[1:]  # without self
        assert list(inspect.signature(getattr(client, name)).parameters) == wanted, name
    assert client.context_length is None or isinstance(client.context_length, int)  # type: ignore[attr-defined]
    fingerprint = client.fingerprint()  # type: ignore[attr-defined]
    assert isinstance(fingerprint, str) and fingerprint
    request = GenerationRequest(prompt="Once upon a time", max_new_tokens=2)
    [[text]] = client.generate([request])  # type: ignore[attr-defined]
    assert isinstance(text, str)
    tokens = client.count_tokens("Once upon a time")  # type: ignore[attr-defined]
    assert tokens is None or (isinstance(tokens, int) and tokens > 0)
    usage = client.usage_metrics()  # type: ignore[attr-defined]
    assert isinstance(usage, dict) and all(isinstance(v, float | int) for v in usage.values())
    stored = client.stored_usage([request], 0.0)  # type: ignore[attr-defined]
    assert isinstance(stored, dict) and all(isinstance(v, float | int) for v in stored.values())
