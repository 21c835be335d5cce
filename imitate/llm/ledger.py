"""What talking to an endpoint cost: requests, cache hits, tokens and dollars, with a hard budget.

The budget is checked *before* each request is sent: the request's worst-case cost (its prompt's
token bound at the input price plus `max_new_tokens` at the output price) is reserved against
`max_cost_usd` together with what was already spent and what is in flight. If it does not fit,
`BudgetExceeded` is raised and the request is never sent; everything finished stays cached. When
the response arrives the reservation is replaced by the response's real `usage` (a response
without `usage`, or one rejected as malformed, is charged its reservation, so the total never
undercounts). Each settled response's `Charge` is stored with it in the request cache, so a resumed
job can count what a killed run paid for after its last commit (`charged_usage`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imitate.llm.base import BudgetExceeded
from imitate.metrics import (
    LLM_CACHE_HITS,
    LLM_COST_USD,
    LLM_INPUT_TOKENS,
    LLM_OUTPUT_TOKENS,
    LLM_REQUESTS,
)

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Charge:
    """What one answered request was counted as: its tokens and their price."""

    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class Reservation:
    """A request's admitted worst case: its token bounds and their price."""

    input_tokens: int
    output_tokens: int
    cost_usd: float


class Ledger:
    """Thread-safe counters plus the `max_cost_usd` guard."""

    def __init__(
        self,
        price_per_1m_input_usd: float = 0.0,
        price_per_1m_output_usd: float = 0.0,
        max_cost_usd: float | None = None,
    ) -> None:
        if price_per_1m_input_usd < 0 or price_per_1m_output_usd < 0:
            raise ValueError(
                f"llm prices must be >= 0, got input {price_per_1m_input_usd} and output "
                f"{price_per_1m_output_usd} USD per 1M tokens"
            )
        if max_cost_usd is not None and max_cost_usd < 0:
            raise ValueError(f"llm.max_cost_usd must be >= 0 or null, got {max_cost_usd}")
        self.price_in = price_per_1m_input_usd
        self.price_out = price_per_1m_output_usd
        self.max_cost_usd = max_cost_usd
        self.requests = 0
        self.cache_hits = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        self.reserved_usd = 0.0
        self._lock = threading.Lock()

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Dollars for these token counts at the configured prices."""
        return (input_tokens * self.price_in + output_tokens * self.price_out) / PER_MILLION

    def reserve(self, input_tokens: int, output_tokens: int, where: str) -> Reservation:
        """Admit a request whose worst case is these token counts, or raise BudgetExceeded."""
        reservation = Reservation(
            input_tokens, output_tokens, self.cost(input_tokens, output_tokens)
        )
        with self._lock:
            committed = self.cost_usd + self.reserved_usd
            if (
                self.max_cost_usd is not None
                and committed + reservation.cost_usd > self.max_cost_usd
            ):
                raise BudgetExceeded(
                    f"{where}: the next request could cost up to ${reservation.cost_usd:.6f} "
                    f"({input_tokens} input + {output_tokens} output tokens, worst case) and "
                    f"${self.cost_usd:.6f} is spent, ${self.reserved_usd:.6f} in flight: that "
                    f"would pass llm.max_cost_usd={self.max_cost_usd}. Stopped before sending "
                    f"it; the {self.requests} finished requests are cached, so a rerun with a "
                    f"higher llm.max_cost_usd continues without paying for them again."
                )
            self.reserved_usd += reservation.cost_usd
        return reservation

    def settle(self, reservation: Reservation, usage: Mapping | None) -> Charge:
        """Replace a reservation by the response's real usage (a field it lacks: its worst case).

        `usage` is checked before (`imitate.llm.responses`): counts are non-negative integers.
        """
        input_tokens, output_tokens = _usage_tokens(usage, reservation)
        charge = Charge(input_tokens, output_tokens, self.cost(input_tokens, output_tokens))
        with self._lock:
            self.reserved_usd = max(0.0, self.reserved_usd - reservation.cost_usd)
            self.requests += 1
            self.input_tokens += input_tokens
            self.output_tokens += output_tokens
            self.cost_usd += charge.cost_usd
        return charge

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation whose request failed without a response (nothing was charged)."""
        with self._lock:
            self.reserved_usd = max(0.0, self.reserved_usd - reservation.cost_usd)

    def hit(self, count: int = 1) -> None:
        with self._lock:
            self.cache_hits += count

    def metrics(self) -> dict[str, float]:
        """The ledger under imitate.metrics LLM_* names."""
        with self._lock:
            return {
                LLM_REQUESTS: float(self.requests),
                LLM_CACHE_HITS: float(self.cache_hits),
                LLM_INPUT_TOKENS: float(self.input_tokens),
                LLM_OUTPUT_TOKENS: float(self.output_tokens),
                LLM_COST_USD: self.cost_usd,
            }


def log_usage(client, run_id: str, llm) -> dict[str, float]:
    """Log `llm.usage_metrics()` to an MLflow run through the one metric writer; returns them."""
    from imitate.metric_log import log_metrics

    metrics = llm.usage_metrics()
    log_metrics(client, run_id, metrics)
    return metrics


def charged_usage(charges: Iterable[Charge]) -> dict[str, float]:
    """Requests, tokens and cost of these charges under the imitate.metrics LLM_* names."""
    charges = list(charges)
    return {
        LLM_REQUESTS: float(len(charges)),
        LLM_INPUT_TOKENS: float(sum(c.input_tokens for c in charges)),
        LLM_OUTPUT_TOKENS: float(sum(c.output_tokens for c in charges)),
        LLM_COST_USD: sum(c.cost_usd for c in charges),
    }


def _usage_tokens(usage: Mapping | None, reservation: Reservation) -> tuple[int, int]:
    usage = usage or {}
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (
        reservation.input_tokens if prompt is None else int(prompt),
        reservation.output_tokens if completion is None else int(completion),
    )
