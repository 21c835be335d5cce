"""Any OpenAI-compatible endpoint (OpenAI, vLLM, TGI, llama.cpp, transformers serve) as an `LLM`.

This module says what to ask: chat requests go to /v1/chat/completions, raw prompts to
/v1/completions, log-probs as `logprobs` configures (`imitate.llm.openai_logprobs`).
`imitate.llm.dispatch` sends it: through the official SDK's `AsyncOpenAI` (its own retries off;
`imitate.llm.retries` does them), at most `max_concurrency` at once, each request priced against
`max_cost_usd` before it is sent (`imitate.llm.ledger`), and each answer checked
(`imitate.llm.responses`: one the tasks cannot read is retried, never cached) and committed to the
request cache with what it was charged before it is used (`imitate.llm.request_cache`).

`generate()` and `next_token_logprobs()` are synchronous: they run the async work on a private
event loop in a daemon thread, so they work the same from plain code and from inside a running
event loop (a notebook, an async caller) — there they block that loop until they return.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence

import openai

from imitate.hashing import stable_hash
from imitate.llm.base import GenerationRequest, LogprobsUnavailable, cut_at_stop
from imitate.llm.dispatch import CHAT, COMPLETIONS, Dispatcher, Job
from imitate.llm.ledger import Ledger, charged_usage
from imitate.llm.openai_logprobs import (
    LOGPROB_MODES,
    check_top_shape,
    echo_body,
    echo_score,
    top_body,
    top_scores,
    unavailable_message,
)
from imitate.llm.request_cache import open_cache
from imitate.llm.responses import is_number
from imitate.llm.retries import EndpointError, MalformedResponse, RetryPolicy

log = logging.getLogger(__name__)

NO_KEY = "no-key"  # sent when api_key_env is null: local servers ignore it, and the SDK needs one
MESSAGE_OVERHEAD_TOKENS = 8  # per chat message: role markers and separators of any chat template
MAX_API_STOP_SEQUENCES = 4  # OpenAI's limit; any further ones are cut locally
REFUSED_LOGPROB_STATUS = frozenset({400, 404, 422})


class OpenAIClient:
    """An OpenAI-compatible endpoint behind the `LLM` interface (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        context_length: int | None = None,
        logprobs: str = "completions_echo",
        top_logprobs: int = 20,
        max_concurrency: int = 8,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 60.0,
        price_per_1m_input_usd: float = 0.0,
        price_per_1m_output_usd: float = 0.0,
        max_cost_usd: float | None = None,
        cache: str | os.PathLike | None = None,
        tokenizer: str | None = None,
    ) -> None:
        if logprobs not in LOGPROB_MODES:
            raise ValueError(f"llm.logprobs={logprobs!r}: valid modes are {LOGPROB_MODES}")
        if max_concurrency < 1:
            raise ValueError(f"llm.max_concurrency={max_concurrency} must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.api_key_env = api_key_env
        self.context_length = context_length
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs
        self.max_concurrency = max_concurrency
        self.policy = RetryPolicy(max_retries, timeout_s, backoff_base_s, backoff_max_s)
        self.ledger = Ledger(price_per_1m_input_usd, price_per_1m_output_usd, max_cost_usd)
        key = _read_key(api_key_env)  # first: a missing key fails before any file is made
        self.cache = open_cache(cache)
        self._told_penalty = False
        self.tokenizer = _load_tokenizer(tokenizer) if tokenizer else None
        # The key lives only inside the SDK client and this redaction closure: no attribute of
        # ours holds it, so repr, fingerprint, logs and the cache cannot carry it.
        sdk = openai.AsyncOpenAI(
            api_key=key or NO_KEY, base_url=self.base_url, timeout=timeout_s, max_retries=0
        )
        self._dispatch = Dispatcher(
            sdk,
            self.policy,
            self.ledger,
            self.cache,
            max_concurrency,
            where=self._where,
            input_bound=self._input_token_bound,
            redact=_redactor(key),
        )

    def __repr__(self) -> str:
        return (
            f"OpenAIClient(base_url={self.base_url!r}, model={self.model!r}, "
            f"api_key_env={self.api_key_env!r}, logprobs={self.logprobs!r}, cache={self.cache!r})"
        )

    def fingerprint(self) -> str:
        """Endpoint and model name: what identifies the answers (never the key)."""
        return stable_hash({"base_url": self.base_url, "model": self.model})

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[str]]:
        """`request.n` texts per request; at temperature > 0 each sample is its own cached call."""
        per_request = [self._generation_jobs(r) for r in requests]
        responses = self._dispatch.fetch([job for jobs in per_request for job in jobs])
        texts, position = [], 0
        for request, jobs in zip(requests, per_request, strict=True):
            replies = [
                cut_at_stop(_reply_text(responses[position + i], request.is_chat), request.stop)
                for i in range(len(jobs))
            ]
            position += len(jobs)
            texts.append(replies if len(replies) == request.n else replies * request.n)
        return texts

    def next_token_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """log p(candidate | prompt) by the configured `logprobs` mode."""
        if self.logprobs == "none":
            raise LogprobsUnavailable(unavailable_message(self._where(COMPLETIONS)))
        if self.logprobs == "completions_echo":
            pairs = [(p, c) for p in prompts for c in candidates]
            responses = self._fetch_logprobs([self._echo_job(p, c) for p, c in pairs])
            width = len(candidates)
            flat = [response["score"] for response in responses]
            return [flat[i : i + width] for i in range(0, len(flat), width)]
        chat = self.logprobs == "chat_top"
        path = CHAT if chat else COMPLETIONS

        def check(response: dict) -> None:
            check_top_shape(response, chat)

        jobs = [
            self._job(path, top_body(self.model, p, self.top_logprobs, chat), {}, 0, p, check)
            for p in prompts
        ]
        return [
            top_scores(response, candidates, chat, self._where(path))
            for response in self._fetch_logprobs(jobs)
        ]

    def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` by the configured `tokenizer`, or None without one."""
        if self.tokenizer is None:
            return None
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def usage_metrics(self) -> dict[str, float]:
        """Requests, cache hits, tokens and cost so far (imitate.metrics LLM_* names)."""
        return self.ledger.metrics()

    def stored_usage(self, requests: Sequence[GenerationRequest], since: float) -> dict[str, float]:
        """What the cache says answering `requests` cost, for responses stored after `since`."""
        keys = [job.key for request in requests for job in self._generation_jobs(request)]
        return charged_usage(self.cache.charged_since(keys, since))

    def close(self) -> None:
        """Stop the private event loop and close the HTTP connections and the cache."""
        self._dispatch.close()
        self.cache.close()

    # -- requests -------------------------------------------------------------------------------

    def _generation_jobs(self, request: GenerationRequest) -> list[Job]:
        if request.repetition_penalty != 1.0 and not self._told_penalty:
            self._told_penalty = (
                True  # OpenAI's API refuses the field; a served model decodes as served
            )
            log.warning(
                "%s: repetition_penalty=%s is an in-process setting; this endpoint decodes without it",
                self.name,
                request.repetition_penalty,
            )
        body: dict = {
            "model": self.model,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "n": 1,
        }
        if request.stop:
            body["stop"] = list(request.stop[:MAX_API_STOP_SEQUENCES])
        if request.messages is not None:
            body["messages"] = [dict(m) for m in request.messages]
            text = "".join(m["content"] for m in request.messages)
        else:
            body["prompt"] = text = request.prompt or ""
        path = CHAT if request.is_chat else COMPLETIONS
        samples = request.n if request.temperature > 0 else 1
        return [self._job(path, body, dict(request.extra), i, text) for i in range(samples)]

    def _job(
        self,
        path: str,
        body: dict,
        extra: dict,
        sample: int,
        text: str,
        check: Callable[[dict], None] | None = None,
    ) -> Job:
        key = stable_hash(
            {
                "base_url": self.base_url,
                "path": path,
                "body": body,
                "extra": extra,
                "sample": sample,
            }
        )
        return Job(path, body, extra, key, text, check=check)

    def _echo_job(self, prompt: str, candidate: str) -> Job:
        # The cache keeps the candidate's score, not the echoed prompt's per-token log-probs
        # (tens of kB per 5-shot MMLU prompt, four per question); the key says so.
        where = self._where(COMPLETIONS)

        def score(response: dict) -> dict:
            return {"score": echo_score(response, prompt, candidate, where)}

        body = echo_body(self.model, prompt, candidate)
        job = self._job(COMPLETIONS, body, {}, 0, prompt + candidate)
        key = stable_hash({"request": job.key, "kept": "echo-score-v1"})
        return dataclasses.replace(job, key=key, compact=score, check=_check_score)

    def _where(self, path: str) -> str:
        return f"POST {self.base_url}/{path} (model {self.model!r})"

    def _fetch_logprobs(self, jobs: list[Job]) -> list[dict]:
        try:
            return self._dispatch.fetch(jobs)
        except EndpointError as err:
            if err.status in REFUSED_LOGPROB_STATUS:
                raise LogprobsUnavailable(
                    f"{err} -- the endpoint refused a log-prob request (llm.logprobs="
                    f"{self.logprobs}); {unavailable_message(self._where(jobs[0].path))}"
                ) from err
            raise

    def _input_token_bound(self, job: Job) -> int:
        # Byte-level BPE tokens are at least one byte, so the UTF-8 length bounds the token count
        # when no tokenizer is configured; each chat message adds its template's markers.
        messages = len(job.body.get("messages") or ())
        counted = self.count_tokens(job.prompt_text)
        tokens = counted if counted is not None else len(job.prompt_text.encode())
        return tokens + MESSAGE_OVERHEAD_TOKENS * messages


def _check_score(kept: dict) -> None:
    if not is_number(kept.get("score")):
        raise MalformedResponse(f"a kept echo score that is not a number: {str(kept)[:200]}")


def _reply_text(response: dict, chat: bool) -> str:
    choice = response["choices"][0]
    text = choice["message"].get("content") if chat else choice.get("text")
    return text or ""


def _read_key(api_key_env: str | None) -> str | None:
    if api_key_env is None:
        return None
    key = os.environ.get(api_key_env)
    if not key:
        raise RuntimeError(
            f"llm.api_key_env={api_key_env!r}: the environment variable {api_key_env} is not set "
            f"(or empty); export it with the API key, or set llm.api_key_env=null for a local "
            f"server that needs none"
        )
    return key


def _redactor(key: str | None):
    def redact(text: str) -> str:
        return text.replace(key, "***") if key else text

    return redact


def _load_tokenizer(name_or_path: str):
    from imitate.pretrained import build_tokenizer

    return build_tokenizer(name_or_path)
