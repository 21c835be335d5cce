"""Retries for one endpoint call: exponential backoff with jitter, `Retry-After`, a clear last error.

Retried: HTTP 408, 409, 429 and 5xx, connection errors (refused, dropped), timeouts, and malformed
responses (unparseable JSON, or a 200 the tasks cannot read: `imitate.llm.responses`). Any other HTTP status (400, 401, 404,
422, ...) is raised at once: sending the same request again cannot fix it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import openai

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 429})
BODY_EXCERPT = 300  # characters of a server's error body kept in messages


class EndpointError(RuntimeError):
    """An endpoint call failed for good; `status` is the last HTTP status (None: no response)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MalformedResponse(ValueError):
    """The server answered 200 with something that is not a completion."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for one response and how often to try again."""

    max_retries: int = 4
    timeout_s: float = 60.0
    backoff_base_s: float = 0.5  # the first wait; doubled each retry, times a jitter in [0.5, 1]
    backoff_max_s: float = 60.0  # cap on any wait, a server's Retry-After included

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.timeout_s <= 0 or self.backoff_base_s < 0:
            raise ValueError(
                f"llm: max_retries={self.max_retries} must be >= 0, timeout_s={self.timeout_s} "
                f"> 0 and backoff_base_s={self.backoff_base_s} >= 0"
            )

    def wait_s(self, retry: int, retry_after_s: float | None) -> float:
        """Seconds before retry number `retry` (0-based): jittered backoff, at least Retry-After."""
        backoff = self.backoff_base_s * 2**retry * random.uniform(0.5, 1.0)
        return min(self.backoff_max_s, max(backoff, retry_after_s or 0.0))


@dataclass(frozen=True)
class _Failure:
    retryable: bool
    description: str
    status: int | None = None
    retry_after_s: float | None = None


async def call_with_retries(
    send: Callable[[], Awaitable[dict]],
    policy: RetryPolicy,
    where: str,
    redact: Callable[[str], str] = str,
) -> dict:
    """`await send()` until it succeeds, retrying what can succeed later; EndpointError otherwise."""
    attempts = policy.max_retries + 1
    for attempt in range(attempts):
        try:
            return await asyncio.wait_for(send(), policy.timeout_s)
        except Exception as err:  # classified below; anything unknown is re-raised unchanged
            failure = _classify(err, policy)
        description = redact(failure.description)
        if not failure.retryable:
            raise EndpointError(f"{where}: {description} (not retried)", failure.status)
        if attempt == attempts - 1:
            raise EndpointError(
                f"{where}: failed after {attempts} attempts (max_retries={policy.max_retries}); "
                f"last: {description}",
                failure.status,
            )
        wait = policy.wait_s(attempt, failure.retry_after_s)
        log.warning(
            "%s: %s; retry %d/%d in %.2f s",
            where,
            description,
            attempt + 1,
            policy.max_retries,
            wait,
        )
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def retry_after_seconds(headers) -> float | None:
    """A response's `retry-after-ms` / `Retry-After` (seconds or an HTTP date) in seconds."""
    if headers is None:
        return None
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _classify(err: Exception, policy: RetryPolicy) -> _Failure:
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        body = err.response.text[:BODY_EXCERPT] if err.response is not None else ""
        return _Failure(
            retryable=status in RETRYABLE_STATUS or status >= 500,
            description=f"HTTP {status}: {body}",
            status=status,
            retry_after_s=retry_after_seconds(err.response.headers),
        )
    if isinstance(err, (openai.APITimeoutError, TimeoutError)):
        return _Failure(True, f"no response within timeout_s={policy.timeout_s}")
    if isinstance(err, openai.APIConnectionError):
        cause = err.__cause__ or err
        return _Failure(True, f"connection error ({type(cause).__name__}: {cause})")
    if isinstance(err, (MalformedResponse, json.JSONDecodeError)):
        return _Failure(True, f"malformed response ({err})")
    raise err
