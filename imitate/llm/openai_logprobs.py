"""Next-token log-probs over an OpenAI-compatible API, three ways (`llm.logprobs`).

- `completions_echo`: POST /v1/completions with `prompt + candidate`, `echo=true`, `logprobs=1`,
  `max_tokens=1`; the candidate's score is the sum of the echoed log-probs of the tokens that
  start inside it (located by `text_offset`). Exactly what in-process scoring computes when the
  candidate is one token; one request per (prompt, candidate). vLLM and OpenAI's legacy
  completions models return these.
- `completions_top`: POST /v1/completions with the prompt, `max_tokens=1`, `logprobs=top_k`; a
  candidate's score is its entry in the first generated token's top-k (exact string match).
- `chat_top`: POST /v1/chat/completions with the prompt as one user message, `max_tokens=1`,
  `logprobs=true`, `top_logprobs=top_k` (OpenAI chat models: gpt-3.5-turbo, gpt-4o-mini). The
  model answers through its chat template, so " A" and "A" are both the answer A: a candidate's
  score is the log of the summed probability of the top-k tokens equal to it after stripping
  whitespace.

In both top-k modes a candidate outside the top k scores -inf (its log-prob is below the k-th).
A response with no log-probs means the server does not give them (`LogprobsUnavailable`, the task
is refused); log-probs of the wrong shape are a malformed response (`MalformedResponse`: retried,
never cached).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from imitate.llm.base import LogprobsUnavailable
from imitate.llm.responses import is_count, is_number
from imitate.llm.retries import MalformedResponse

LOGPROB_MODES = ("completions_echo", "completions_top", "chat_top", "none")


def echo_body(model: str, prompt: str, candidate: str) -> dict:
    """The /v1/completions body that echoes `prompt + candidate` with each token's log-prob."""
    return {
        "model": model,
        "prompt": prompt + candidate,
        "max_tokens": 1,  # 1, not 0: not every server accepts 0; the generated token is ignored
        "temperature": 0.0,
        "echo": True,
        "logprobs": 1,
    }


def top_body(model: str, prompt: str, top_k: int, chat: bool) -> dict:
    """The body asking for the top-k log-probs of one generated token after `prompt`."""
    body: dict = {"model": model, "max_tokens": 1, "temperature": 0.0}
    if chat:
        return body | {
            "messages": [{"role": "user", "content": prompt}],
            "logprobs": True,
            "top_logprobs": top_k,
        }
    return body | {"prompt": prompt, "logprobs": top_k}


def echo_score(response: dict, prompt: str, candidate: str, where: str) -> float:
    """log p(candidate | prompt) from an echo response of `echo_body`."""
    choice = _first_choice(response, where)
    logprobs = _logprobs_of(choice, where, "completions_echo")
    tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
    if not tokens or not values:
        raise LogprobsUnavailable(
            f"{where}: the echo response has no per-token log-probs (logprobs={logprobs!r:.200}); "
            f"the server does not support echo + logprobs: {_ADVICE}"
        )
    _check_echo_shape(tokens, values, logprobs.get("text_offset"))
    offsets = logprobs.get("text_offset") or _cumulative_offsets(tokens)
    text = choice.get("text") or "".join(tokens)
    shift = text.find(prompt + candidate)  # a server may echo a BOS string before the prompt
    start, end = shift + len(prompt), shift + len(prompt) + len(candidate)
    if shift < 0 or start not in offsets:
        raise ValueError(
            f"{where}: candidate {candidate!r} does not start a new token after the prompt "
            f"(prompt ends {prompt[-30:]!r}); the tokenizer merges it with the prompt's last "
            f"token, so its next-token log-prob is undefined: end the prompt so the candidate "
            f"starts a token (e.g. 'Answer:' + ' A'), or use llm.logprobs=completions_top"
        )
    picked = [v for offset, v in zip(offsets, values, strict=True) if start <= offset < end]
    if any(v is None for v in picked):
        raise LogprobsUnavailable(f"{where}: the echo response has null log-probs: {_ADVICE}")
    return float(sum(picked))


def check_top_shape(response: dict, chat: bool) -> None:
    """MalformedResponse unless a `top_body` response's log-probs (if any) are of its mode's shape."""
    logprobs = response["choices"][0].get("logprobs")  # the choice is checked before
    if logprobs is None:
        return  # no log-probs at all: top_scores refuses the task with LogprobsUnavailable
    _ranked(logprobs, chat)


def top_scores(response: dict, candidates: Sequence[str], chat: bool, where: str) -> list[float]:
    """Each candidate's log-prob as the first generated token, from a `top_body` response."""
    choice = _first_choice(response, where)
    mode = "chat_top" if chat else "completions_top"
    ranked = _ranked(_logprobs_of(choice, where, mode), chat)
    if not ranked:
        raise LogprobsUnavailable(f"{where}: the response has no top log-probs ({mode}): {_ADVICE}")
    if not chat:
        table = dict(ranked)
        return [float(table.get(c, -math.inf)) for c in candidates]
    return [
        _logsumexp([lp for token, lp in ranked if token.strip() == c.strip()]) for c in candidates
    ]


def unavailable_message(where: str) -> str:
    """Why `logprobs: none` refuses, and what to configure instead."""
    return f"{where} is configured with logprobs: none, so it cannot score candidates: {_ADVICE}"


_ADVICE = (
    "set llm.logprobs to completions_echo (vLLM, OpenAI legacy completions), completions_top "
    "(servers returning top-k completion log-probs) or chat_top (OpenAI chat models) if the "
    "endpoint returns log-probs; otherwise tasks that need them (MMLU) cannot run on it "
    "(transformers serve, for one, ignores logprobs and echo)"
)


def _first_choice(response: dict, where: str) -> dict:
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError(f"{where}: response without choices: {str(response)[:200]}")
    return choices[0]


def _logprobs_of(choice: dict, where: str, mode: str) -> dict:
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        raise LogprobsUnavailable(
            f"{where}: the response carries no log-probs (llm.logprobs={mode}); {_ADVICE}"
        )
    return logprobs


def _ranked(logprobs: object, chat: bool) -> list[tuple[str, float]]:
    """(token, log-prob) of the first generated token's top-k; MalformedResponse if misshapen."""
    if not isinstance(logprobs, dict):
        raise MalformedResponse(f"logprobs is not an object: {str(logprobs)[:200]}")
    pairs: list[tuple[object, object]]
    if chat:
        content = logprobs.get("content") or []
        first = content[0] if isinstance(content, list) and content else {}
        top = first.get("top_logprobs") if isinstance(first, dict) else None
        entries = top if isinstance(top, list) else []
        pairs = [(t.get("token"), t.get("logprob")) for t in entries if isinstance(t, dict)]
        shaped = (
            isinstance(content, list)
            and isinstance(first, dict)
            and (top is None or isinstance(top, list))
            and len(pairs) == len(entries)
        )
    else:
        top_list = logprobs.get("top_logprobs") or [None]
        head = top_list[0] if isinstance(top_list, list) else None
        pairs = list(head.items()) if isinstance(head, dict) else []
        shaped = isinstance(top_list, list) and (head is None or isinstance(head, dict))
    if not shaped or not all(isinstance(t, str) and is_number(v) for t, v in pairs):
        raise MalformedResponse(f"top log-probs of the wrong shape: {str(logprobs)[:200]}")
    return [(t, float(v)) for t, v in pairs if isinstance(t, str) and isinstance(v, int | float)]


def _check_echo_shape(tokens: object, values: object, offsets: object) -> None:
    width = len(tokens) if isinstance(tokens, list) else -1
    if (
        not isinstance(tokens, list)
        or not all(isinstance(t, str) for t in tokens)
        or not isinstance(values, list)
        or len(values) != width
        or not all(v is None or is_number(v) for v in values)
        or (offsets is not None and not _counts_of_width(offsets, width))
    ):
        raise MalformedResponse(
            f"echo log-probs of the wrong shape: tokens {str(tokens)[:80]}, token_logprobs "
            f"{str(values)[:80]}, text_offset {str(offsets)[:80]}"
        )


def _counts_of_width(values: object, width: int) -> bool:
    return isinstance(values, list) and len(values) == width and all(map(is_count, values))


def _cumulative_offsets(tokens: Sequence[str]) -> list[int]:
    offsets, position = [], 0
    for token in tokens:
        offsets.append(position)
        position += len(token)
    return offsets


def _logsumexp(values: Sequence[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))
