"""OpenAIClient against a scripted loopback server: routing, retries, timeouts, samples, stops."""

from __future__ import annotations

import asyncio
import time

import pytest

from imitate.llm.base import GenerationRequest, LogprobsUnavailable
from imitate.llm.openai_client import OpenAIClient
from imitate.llm.retries import EndpointError
from tests.support.llm_protocol import assert_implements_llm

CHAT = GenerationRequest(messages=[{"role": "user", "content": "hello there"}], max_new_tokens=8)
RAW = GenerationRequest(prompt="once upon a time", max_new_tokens=8)


def test_chat_goes_to_chat_completions_and_prompts_to_completions(server, make_client) -> None:
    client = make_client(server)
    assert client.generate([CHAT, RAW]) == [["echo: hello there"], ["echo: once upon a time"]]
    paths = sorted(a["path"] for a in server.arrivals)
    assert paths == ["/v1/chat/completions", "/v1/completions"]
    sent = {a["path"]: a["body"] for a in server.arrivals}
    assert sent["/v1/chat/completions"]["messages"] == [{"role": "user", "content": "hello there"}]
    assert sent["/v1/completions"]["max_tokens"] == 8
    assert sent["/v1/completions"]["temperature"] == 0.0


def test_openai_client_answers_every_member_of_the_llm_protocol(server, make_client) -> None:
    assert_implements_llm(make_client(server))


def test_stop_sequences_are_sent_and_cut_locally(server, make_client) -> None:
    request = GenerationRequest(prompt="one two three four", stop=("three", "x1", "x2", "x3", "x4"))
    [[text]] = make_client(server).generate([request])
    assert text == "echo: one two "
    assert server.arrivals[0]["body"]["stop"] == ["three", "x1", "x2", "x3"]  # the API's limit: 4


def test_429_waits_for_retry_after(server, make_client) -> None:
    server.script.extend(["429:1"])
    started = time.monotonic()
    assert make_client(server).generate([RAW]) == [["echo: once upon a time"]]
    first, second = (a["time"] for a in server.arrivals)
    assert server.count == 2
    assert 1.0 <= second - first < 2.0  # backoff alone would be ~1 ms
    assert time.monotonic() - started < 3.0


def test_retry_after_is_capped_by_backoff_max(server, make_client) -> None:
    server.script.extend(["429:30"])
    make_client(server, backoff_max_s=0.2).generate([RAW])
    first, second = (a["time"] for a in server.arrivals)
    assert 0.2 <= second - first < 1.0


def test_500_drop_malformed_and_empty_replies_are_retried(server, make_client) -> None:
    server.script.extend(["500", "drop", "malformed", "no_choices"])
    assert make_client(server, max_retries=4).generate([CHAT]) == [["echo: hello there"]]
    assert server.count == 5  # the SDK's own retries are off: every attempt is ours


def test_last_retry_raises_a_clear_error(server, make_client) -> None:
    server.script.extend(["500"] * 3)
    with pytest.raises(EndpointError) as error:
        make_client(server, max_retries=2).generate([RAW])
    message = str(error.value)
    assert f"POST {server.url}/completions" in message and "'echo-model'" in message
    assert "after 3 attempts" in message and "HTTP 500" in message
    assert error.value.status == 500
    assert server.count == 3


def test_malformed_json_every_time_is_a_clear_error(server, make_client) -> None:
    server.script.extend(["malformed"] * 2)
    with pytest.raises(EndpointError, match="malformed response"):
        make_client(server, max_retries=1).generate([RAW])
    assert server.count == 2


def test_slow_responses_time_out_and_are_retried(server, make_client) -> None:
    server.script.extend(["slow:1", "slow:1"])
    started = time.monotonic()
    with pytest.raises(EndpointError, match=r"no response within timeout_s=0.3"):
        make_client(server, timeout_s=0.3, max_retries=1).generate([RAW])
    assert time.monotonic() - started < 1.5
    assert server.count == 2


def test_client_errors_are_not_retried(server, make_client) -> None:
    server.script.extend(["auth_echo_400"])
    with pytest.raises(EndpointError, match="HTTP 400.*not retried") as error:
        make_client(server).generate([RAW])
    assert error.value.status == 400 and server.count == 1


def test_samples_at_temperature_are_cached_one_by_one(server, make_client) -> None:
    def request(n: int) -> GenerationRequest:
        return GenerationRequest(prompt="tell me", temperature=0.8, n=n, max_new_tokens=8)

    [first] = make_client(server).generate([request(3)])
    assert len(set(first)) == 3 and server.count == 3
    [resumed] = make_client(server).generate([request(5)])  # a new client, the same cache file
    assert resumed[:3] == first and len(set(resumed)) == 5
    assert server.count == 5  # only samples 3 and 4 were sent


def test_greedy_n_is_one_request_copied(server, make_client) -> None:
    [texts] = make_client(server).generate([GenerationRequest(prompt="p", n=3)])
    assert texts == ["echo: p"] * 3 and server.count == 1


def test_duplicate_requests_in_one_call_are_sent_once(server, make_client) -> None:
    client = make_client(server)
    assert client.generate([RAW, RAW, CHAT]) == [["echo: once upon a time"]] * 2 + [
        ["echo: hello there"]
    ]
    assert server.count == 2


def test_concurrency_is_bounded(make_client) -> None:
    from tests.llm.loopback import LoopbackServer

    with LoopbackServer(latency_s=0.2) as slow:
        started = time.monotonic()
        requests = [GenerationRequest(prompt=f"q{i}") for i in range(12)]
        texts = make_client(slow, max_concurrency=4).generate(requests)
        elapsed = time.monotonic() - started
    assert [t for [t] in texts] == [f"echo: q{i}" for i in range(12)]
    assert slow.max_in_flight == 4
    assert 0.6 <= elapsed < 2.0  # 3 waves of 4, not 12 in a row (2.4 s)


def test_concurrency_bound_holds_across_threads(make_client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.llm.loopback import LoopbackServer

    with LoopbackServer(latency_s=0.1) as slow:
        client = make_client(slow, max_concurrency=2)
        batches = [[GenerationRequest(prompt=f"t{t} q{i}") for i in range(4)] for t in range(3)]
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(client.generate, batches))
    assert results[2] == [[f"echo: t2 q{i}"] for i in range(4)]
    assert slow.count == 12 and slow.max_in_flight == 2


def test_generate_works_inside_a_running_event_loop(server, make_client) -> None:
    client = make_client(server)

    async def caller() -> list[list[str]]:
        return client.generate([RAW])

    assert asyncio.run(caller()) == [["echo: once upon a time"]]


def test_missing_key_variable_is_named(server, monkeypatch) -> None:
    monkeypatch.delenv("IMITATE_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(RuntimeError, match=r"IMITATE_TEST_NO_SUCH_KEY.*not set"):
        OpenAIClient(server.url, "m", api_key_env="IMITATE_TEST_NO_SUCH_KEY")


def test_bad_logprobs_mode_lists_valid_ones(server) -> None:
    with pytest.raises(ValueError, match=r"llm.logprobs='echo'.*completions_echo.*chat_top"):
        OpenAIClient(server.url, "m", logprobs="echo")


def test_fingerprint_is_endpoint_and_model(server, make_client) -> None:
    a = make_client(server, model="a")
    assert a.fingerprint() == make_client(server, model="a", max_concurrency=2).fingerprint()
    assert a.fingerprint() != make_client(server, model="b").fingerprint()
    assert a.name == "openai:a"


def test_logprobs_none_refuses_with_what_to_configure(server, make_client) -> None:
    with pytest.raises(LogprobsUnavailable, match=r"/completions.*logprobs: none.*llm.logprobs"):
        make_client(server, logprobs="none").next_token_logprobs(["Answer:"], [" A", " B"])
    assert server.count == 0


@pytest.mark.parametrize("mode", ["completions_echo", "completions_top", "chat_top"])
def test_server_without_logprobs_is_refused_not_guessed(server, make_client, mode) -> None:
    # the loopback server, like transformers serve, answers but ignores logprobs/echo
    with pytest.raises(LogprobsUnavailable, match=r"carries no log-probs.*llm.logprobs"):
        make_client(server, logprobs=mode).next_token_logprobs(["Answer:"], [" A", " B"])


def test_count_tokens_needs_a_tokenizer(server, make_client, smollm2_tokenizer) -> None:
    assert make_client(server).count_tokens("hello world") is None
    with_tokenizer = make_client(server, tokenizer=smollm2_tokenizer.name_or_path)
    text = "The capital of France is Paris."
    expected = len(smollm2_tokenizer(text, add_special_tokens=False)["input_ids"])
    assert with_tokenizer.count_tokens(text) == expected
