"""Sending a batch of endpoint requests: cache first, each distinct request once, budget, concurrency.

A `Dispatcher` turns jobs (path + JSON body + cache key) into responses. Cached ones are read from
the request cache; the rest are sent through the SDK's async client, at most `max_concurrency`
at once (across every call, from any thread), each priced against the ledger before it is sent and committed to the cache before it
is used. The first failure (an endpoint error after its retries, or the budget) stops any job
not yet sent; jobs in flight finish and are kept, then the failure is raised.

The async work runs on a private event loop in a daemon thread, so the synchronous `fetch`
works the same from plain code and from inside a running event loop (which it blocks).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass

import openai

from imitate.llm.ledger import Ledger
from imitate.llm.request_cache import MemoryCache, RequestCache
from imitate.llm.retries import MalformedResponse, RetryPolicy, call_with_retries

CHAT, COMPLETIONS = "chat/completions", "completions"


@dataclass(frozen=True)
class Job:
    """One HTTP request: its path under the base URL, its JSON body, its cache key."""

    path: str
    body: dict
    extra: dict  # backend-specific fields, merged into the body as sent
    key: str
    prompt_text: str  # what its input tokens come from: the budget's worst case counts it
    # what of the response is kept (cached and returned); None: all of it
    compact: Callable[[dict], dict] | None = None


class Dispatcher:
    """Responses for jobs, from the cache or the endpoint (see the module docstring)."""

    def __init__(
        self,
        sdk: openai.AsyncOpenAI,
        policy: RetryPolicy,
        ledger: Ledger,
        cache: RequestCache | MemoryCache,
        max_concurrency: int,
        where: Callable[[str], str],
        input_bound: Callable[[Job], int],
        redact: Callable[[str], str],
    ) -> None:
        self.sdk, self.policy, self.ledger, self.cache = sdk, policy, ledger, cache
        self.max_concurrency = max_concurrency
        self.where, self.input_bound, self.redact = where, input_bound, redact
        self._loop: _LoopThread | None = None
        self._loop_lock = threading.Lock()
        self._semaphore: asyncio.Semaphore | None = None  # made on the loop, shared by all calls

    def fetch(self, jobs: Sequence[Job]) -> list[dict]:
        """The response for each job, in order."""
        found = self.cache.get_many(job.key for job in jobs)
        self.ledger.hit(sum(job.key in found for job in jobs))
        missing = list({job.key: job for job in jobs if job.key not in found}.values())
        if missing:
            found.update(self._run(self._send_all(missing)))
        return [found[job.key] for job in jobs]

    def close(self) -> None:
        """Close the HTTP connections and stop the private loop."""
        if self._loop is not None:
            self._loop.run(self.sdk.close())
            self._loop.stop()
            self._loop, self._semaphore = None, None

    async def _send_all(self, jobs: list[Job]) -> dict[str, dict]:
        if self._semaphore is None:  # only the loop thread runs this: no race
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        semaphore = self._semaphore
        stopped = threading.Event()  # set by the first failure: nothing further is sent

        async def one(job: Job) -> tuple[str, dict]:
            async with semaphore:
                if stopped.is_set():
                    raise _NotSent
                return job.key, await self._send(job, stopped)

        outcomes = await asyncio.gather(*(one(job) for job in jobs), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if failures := [o for o in errors if not isinstance(o, _NotSent)]:
            raise failures[0]
        return dict(o for o in outcomes if not isinstance(o, BaseException))

    async def _send(self, job: Job, stopped: threading.Event) -> dict:
        where = self.where(job.path)
        try:
            reservation = self.ledger.reserve(
                self.input_bound(job), int(job.body["max_tokens"]), where
            )
        except BaseException:
            stopped.set()
            raise
        try:
            response = await call_with_retries(
                lambda: self._post(job), self.policy, where, self.redact
            )
        except BaseException:
            stopped.set()
            self.ledger.release(reservation)
            raise
        self.ledger.settle(reservation, response.get("usage"))  # paid, whatever comes next
        try:
            kept = job.compact(response) if job.compact else response
        except BaseException:
            stopped.set()  # e.g. a server that returns no log-probs: the others would fail too
            raise
        self.cache.put(job.key, kept)  # committed before anyone uses it: resume-safe
        return kept

    async def _post(self, job: Job) -> dict:
        resource = self.sdk.chat.completions if job.path == CHAT else self.sdk.completions
        raw = await resource.with_raw_response.create(**job.body, extra_body=job.extra or None)
        return checked_response(json.loads(raw.text), job.path)

    def _run(self, coroutine: Coroutine):
        with self._loop_lock:  # generate() may be called from several threads at once
            if self._loop is None:
                self._loop = _LoopThread()
        return self._loop.run(coroutine)


def checked_response(response: object, path: str) -> dict:
    """`response` if it is a completion with choices, else MalformedResponse (retried)."""
    choices = response.get("choices") if isinstance(response, dict) else None
    if not isinstance(response, dict) or not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"200 without choices from /{path}: {str(response)[:200]}")
    if not isinstance(choices[0], dict):
        raise MalformedResponse(f"a choice that is not an object: {str(choices[0])[:200]}")
    if path == CHAT and not isinstance(choices[0].get("message"), dict):
        raise MalformedResponse(f"chat choice without a message: {str(choices[0])[:200]}")
    return response


class _NotSent(Exception):
    """A job skipped because an earlier one failed or hit the budget."""


class _LoopThread:
    """An event loop running forever in a daemon thread; `run` blocks until a coroutine is done."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llm-client", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
