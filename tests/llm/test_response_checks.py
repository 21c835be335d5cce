"""Answers the tasks cannot use, served over loopback: retried and charged, never cached or used."""

from __future__ import annotations

import json
import sqlite3

import pytest

from imitate.llm.base import GenerationRequest
from imitate.llm.retries import EndpointError
from imitate.metrics import LLM_COST_USD, LLM_REQUESTS
from tests.support.llm_answers import (
    BAD_CHAT,
    BAD_RAW,
    CHAT,
    GOOD_COST,
    PRICES,
    RAW,
    WORST_CHAT,
    WORST_RAW,
    chat_body,
    said,
    text_body,
)


def cached_rows(client) -> list[dict]:
    with sqlite3.connect(client.cache.path) as raw:
        return [json.loads(text) for (text,) in raw.execute("SELECT response FROM responses")]


@pytest.mark.parametrize(
    ("request_", "bad", "worst"),
    [(CHAT, body, WORST_CHAT) for body in BAD_CHAT.values()]
    + [(RAW, body, WORST_RAW) for body in BAD_RAW.values()],
    ids=[*BAD_CHAT, *BAD_RAW],
)
def test_an_unusable_answer_is_retried_charged_and_never_cached(
    server, make_client, request_, bad, worst
) -> None:
    server.script.append("reply:" + json.dumps(bad))
    client = make_client(server, **PRICES)
    assert client.generate([request_]) == [["echo: hi you"]]
    assert server.count == 2
    assert [row["choices"][0] for row in cached_rows(client)] == [
        json.loads(json.dumps(bad_free_answer(request_)))
    ]
    usage = client.usage_metrics()
    assert usage[LLM_REQUESTS] == 2 and usage[LLM_COST_USD] == GOOD_COST + worst
    again = make_client(server)  # a rerun: the good answer comes from the cache
    assert again.generate([request_]) == [["echo: hi you"]] and server.count == 2


def bad_free_answer(request: GenerationRequest) -> dict:
    if request.is_chat:
        return {"index": 0, "message": said("echo: hi you"), "finish_reason": "stop"}
    return {"index": 0, "text": "echo: hi you", "finish_reason": "stop", "logprobs": None}


def test_an_answer_unusable_every_time_is_an_error_and_nothing_is_cached(server, make_client):
    server.script.extend(["reply:" + json.dumps(BAD_CHAT["content_list"])] * 3)
    client = make_client(server, max_retries=2)
    with pytest.raises(EndpointError, match=r"3 attempts.*message.content is list"):
        client.generate([CHAT])
    assert server.count == 3 and len(client.cache) == 0


def test_a_null_content_is_an_empty_reply(server, make_client) -> None:
    # OpenAI sends content null with a refusal: a real, paid answer; retrying would repeat it
    server.script.append("reply:" + json.dumps(chat_body(said(None))))
    assert make_client(server).generate([CHAT]) == [[""]]
    assert server.count == 1


def test_usage_without_a_count_charges_that_count_its_worst_case(server, make_client) -> None:
    server.script.append("reply:" + json.dumps(chat_body(said("ok"), usage={"prompt_tokens": 3})))
    client = make_client(server, **PRICES)
    client.generate([CHAT])
    assert client.usage_metrics()[LLM_COST_USD] == 3 + 2 * 5  # completion: max_new_tokens


def top_answer(logprobs: object) -> dict:
    return text_body(text=" A", logprobs=logprobs)


def chat_top_answer(content: object) -> dict:
    return chat_body(said("A"), logprobs={"content": content})


GOOD_TOP = {"top_logprobs": [{" A": -0.5, " B": -1.5}]}
GOOD_CHAT_TOP = [{"token": "A", "logprob": -0.5, "top_logprobs": [{"token": "A", "logprob": -0.5}]}]
GOOD_ECHO = {"tokens": ["Q", ":", " A"], "token_logprobs": [None, -1.0, -0.25]}
BAD_LOGPROBS = [
    ("completions_top", top_answer({"top_logprobs": [{" A": "high"}]})),
    ("completions_top", top_answer({"top_logprobs": [[" A", -0.5]]})),
    ("completions_top", top_answer({"top_logprobs": {" A": -0.5}})),
    ("completions_top", top_answer("lots")),
    ("chat_top", chat_top_answer([{"top_logprobs": [{"token": 5, "logprob": -1}]}])),
    ("chat_top", chat_top_answer([{"top_logprobs": [["A", -0.5]]}])),
    ("chat_top", chat_top_answer("A")),
    ("completions_echo", top_answer({**GOOD_ECHO, "token_logprobs": [None, -1.0]})),
    ("completions_echo", top_answer({**GOOD_ECHO, "token_logprobs": ["a", "b", "c"]})),
    ("completions_echo", top_answer({**GOOD_ECHO, "tokens": "Q: A"})),
    ("completions_echo", top_answer({**GOOD_ECHO, "text_offset": [0, 1]})),
]
GOOD_FOR = {
    "completions_top": top_answer(GOOD_TOP),
    "chat_top": chat_top_answer(GOOD_CHAT_TOP),
    "completions_echo": text_body(text="Q: A", logprobs=GOOD_ECHO),
}
EXPECTED = {"completions_top": -0.5, "chat_top": -0.5, "completions_echo": -0.25}


@pytest.mark.parametrize(("mode", "bad"), BAD_LOGPROBS)
def test_logprobs_of_the_wrong_shape_are_retried_not_cached(server, make_client, mode, bad) -> None:
    server.script.extend(["reply:" + json.dumps(bad), "reply:" + json.dumps(GOOD_FOR[mode])])
    client = make_client(server, logprobs=mode)
    [[score]] = client.next_token_logprobs(["Q:"], [" A"])
    assert score == EXPECTED[mode] and server.count == 2
    assert len(client.cache) == 1
    assert make_client(server, logprobs=mode).next_token_logprobs(["Q:"], [" A"]) == [[score]]
    assert server.count == 2  # the good answer was the one cached
