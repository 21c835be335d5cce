"""The token and cost ledger: numbers from `usage`, the budget stop before the costly request, MLflow."""

from __future__ import annotations

import pytest

from imitate.llm.base import BudgetExceeded, GenerationRequest
from imitate.llm.ledger import Ledger, log_usage
from imitate.metrics import (
    LLM_CACHE_HITS,
    LLM_COST_USD,
    LLM_INPUT_TOKENS,
    LLM_OUTPUT_TOKENS,
    LLM_REQUESTS,
)
from tests.llm.loopback import LoopbackServer

# $1 per input token, $2 per output token: costs read as token counts
PRICES = {"price_per_1m_input_usd": 1e6, "price_per_1m_output_usd": 2e6}
# The loopback server's usage for prompt "w<i> x y": 3 words + 1 = 4 input tokens, and its reply
# "echo: w<i> x y" 4 output tokens: $4 + $8 = $12 a request. The worst case the client reserves
# before sending: 6 UTF-8 bytes at $1 + max_new_tokens 5 at $2 = $16.
COST, WORST_CASE = 12.0, 16.0


def requests(count: int) -> list[GenerationRequest]:
    return [GenerationRequest(prompt=f"w{i} x y", max_new_tokens=5) for i in range(count)]


def test_ledger_counts_usage_and_cache_hits(server, make_client) -> None:
    client = make_client(server, **PRICES)
    client.generate(
        requests(3) + [GenerationRequest(messages=[{"role": "user", "content": "a b"}])]
    )
    assert client.usage_metrics() == {
        LLM_REQUESTS: 4.0,
        LLM_CACHE_HITS: 0.0,
        LLM_INPUT_TOKENS: 3 * 4 + 3.0,
        LLM_OUTPUT_TOKENS: 3 * 4 + 3.0,
        LLM_COST_USD: 3 * COST + 3 + 6,
    }
    client.generate(requests(2))
    assert client.usage_metrics()[LLM_CACHE_HITS] == 2.0
    assert client.usage_metrics()[LLM_REQUESTS] == 4.0


def test_budget_stops_before_the_request_that_would_pass_it(server, make_client) -> None:
    # after 3 requests $36 is spent; the 4th could cost $16 -> $52 > $51: it is never sent
    client = make_client(server, max_concurrency=1, max_cost_usd=51.0, **PRICES)
    with pytest.raises(BudgetExceeded, match=r"up to \$16.0+ .*max_cost_usd=51.0.*3 finished"):
        client.generate(requests(10))
    assert server.count == 3
    assert client.usage_metrics()[LLM_COST_USD] == 3 * COST
    resumed = make_client(server, max_concurrency=1, max_cost_usd=None, **PRICES)
    texts = resumed.generate(requests(10))
    assert texts == [[f"echo: w{i} x y"] for i in range(10)]
    assert server.count == 10  # the 3 finished ones came from the cache
    assert resumed.usage_metrics()[LLM_CACHE_HITS] == 3.0


def test_budget_exactly_reached_is_allowed(server, make_client) -> None:
    client = make_client(server, max_concurrency=1, max_cost_usd=3 * COST + WORST_CASE, **PRICES)
    with pytest.raises(BudgetExceeded):
        client.generate(requests(10))
    assert server.count == 4


def test_budget_counts_requests_in_flight(make_client) -> None:
    # 8 slots free at once: nothing has finished when the 4th is priced, 3 x $16 are in flight
    with LoopbackServer(latency_s=0.1) as slow:
        client = make_client(slow, max_concurrency=8, max_cost_usd=51.0, **PRICES)
        with pytest.raises(BudgetExceeded, match=r"\$48.0+ in flight"):
            client.generate(requests(10))
        assert slow.count == 3
        assert client.ledger.reserved_usd == 0.0
        assert client.usage_metrics()[LLM_COST_USD] == 3 * COST


def test_response_without_usage_is_charged_its_worst_case() -> None:
    ledger = Ledger(1e6, 2e6)
    ledger.settle(ledger.reserve(6, 5, "here"), usage=None)
    assert ledger.metrics()[LLM_COST_USD] == WORST_CASE
    assert ledger.metrics()[LLM_INPUT_TOKENS] == 6 and ledger.reserved_usd == 0.0


def test_negative_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="prices must be >= 0"):
        Ledger(-1.0, 0.0)


def test_ledger_is_logged_to_mlflow_under_the_metric_names(server, make_client, tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    client = make_client(server, **PRICES)
    client.generate(requests(2))
    store = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = store.create_run(store.create_experiment("t")).info.run_id
    logged = log_usage(store, run_id, client)
    stored = store.get_run(run_id).data.metrics
    assert stored == logged == client.usage_metrics()
    assert stored[LLM_COST_USD] == 2 * COST
