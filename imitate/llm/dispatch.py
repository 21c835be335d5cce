"""Sending a batch of endpoint requests: cache first, each distinct request once, budget, concurrency.

A `Dispatcher` turns jobs (path + JSON body + cache key) into responses. Cached ones are read from
the request cache (a row its job's check refuses is a miss); the rest are sent through the SDK's
async client, at most `max_concurrency` at once (across every call, from any thread). Each attempt
is priced against the ledger before it is sent; its answer is checked (`imitate.llm.responses`,
then the job's own check), charged, and committed to the cache with its charge before it is used.
An answer that fails a check is charged its worst case (it was answered, so likely billed) and
retried, never cached. The first failure (an endpoint error after its retries, or the budget) stops
any job not yet sent; jobs in flight finish and are kept, then the failure is raised.

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
from imitate.llm.responses import CHAT, COMPLETIONS, checked_response
from imitate.llm.retries import MalformedResponse, RetryPolicy, call_with_retries

__all__ = ["CHAT", "COMPLETIONS", "Dispatcher", "Job"]


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
    # MalformedResponse unless what is kept is usable (run on answers and on cached rows alike)
    check: Callable[[dict], None] | None = None

    def check_kept(self, kept: dict) -> None:
        """MalformedResponse unless `kept` (a fresh answer or a cached row) is usable."""
        if self.compact is None:
            checked_response(kept, self.path)
        if self.check is not None:
            self.check(kept)


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
        kept_check = {job.key: job.check_kept for job in jobs}
        found = self.cache.get_many(
            kept_check, check=lambda key, response: kept_check[key](response)
        )
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
            return await call_with_retries(
                lambda: self._attempt(job, where), self.policy, where, self.redact
            )
        except BaseException:
            # the budget, an endpoint error after its retries, or e.g. a server that returns no
            # log-probs: the jobs not yet sent would fail the same way
            stopped.set()
            raise

    async def _attempt(self, job: Job, where: str) -> dict:
        """One paid try: reserve, post, check, charge, cache; MalformedResponse is retried."""
        reservation = self.ledger.reserve(self.input_bound(job), int(job.body["max_tokens"]), where)
        try:
            text = await self._post(job)
        except BaseException:
            self.ledger.release(reservation)  # no answer, nothing to pay
            raise
        try:
            response = checked_response(json.loads(text), job.path)
        except ValueError as err:  # not JSON, or not a completion the tasks can read
            self.ledger.settle(reservation, None)  # answered, so likely billed: its worst case
            raise MalformedResponse(str(err)) from err
        charge = self.ledger.settle(reservation, response.get("usage"))
        kept = job.compact(response) if job.compact else response
        job.check_kept(kept)
        self.cache.put(job.key, kept, charge)  # committed before anyone uses it: resume-safe
        return kept

    async def _post(self, job: Job) -> str:
        resource = self.sdk.chat.completions if job.path == CHAT else self.sdk.completions
        raw = await resource.with_raw_response.create(**job.body, extra_body=job.extra or None)
        return raw.text

    def _run(self, coroutine: Coroutine):
        with self._loop_lock:  # generate() may be called from several threads at once
            if self._loop is None:
                self._loop = _LoopThread()
        return self._loop.run(coroutine)


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
