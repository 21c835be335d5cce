"""Requests and answer bodies for the client's answer checks: one good shape and each unusable one."""

from __future__ import annotations

from imitate.llm.base import GenerationRequest

CHAT = GenerationRequest(messages=[{"role": "user", "content": "hi you"}], max_new_tokens=5)
RAW = GenerationRequest(prompt="hi you", max_new_tokens=5)
GOOD_USAGE = {"prompt_tokens": 3, "completion_tokens": 4}
# $1 per input token, $2 per output token: the loopback's good answer ("echo: hi you", usage 3 in,
# 3 out) costs 3 + 2 * 3 = $9; a rejected one its worst case: "hi you" is 6 UTF-8 bytes (+ 8 for
# a chat message's markers) plus 2 * max_new_tokens 5
PRICES = {"price_per_1m_input_usd": 1e6, "price_per_1m_output_usd": 2e6}
GOOD_COST, WORST_CHAT, WORST_RAW = 9.0, 24.0, 16.0


def chat_body(message: object = None, usage: object = GOOD_USAGE, **choice) -> dict:
    first = {"index": 0, "message": message, **choice} if message is not None else choice
    return {"choices": [first], "usage": usage}


def text_body(usage: object = GOOD_USAGE, **choice) -> dict:
    return {"choices": [{"index": 0, **choice}], "usage": usage}


def said(content: object) -> dict:
    return {"role": "assistant", "content": content}


BAD_CHAT = {
    "content_list": chat_body(said([{"type": "text", "text": "hi"}])),
    "content_int": chat_body(said(42)),
    "content_missing": chat_body({"role": "assistant"}),
    "message_missing": chat_body(finish_reason="stop"),
    "choices_empty": {"choices": [], "usage": GOOD_USAGE},
    "usage_text": chat_body(said("x"), usage={"prompt_tokens": "many", "completion_tokens": 1}),
    "usage_negative": chat_body(said("x"), usage={"prompt_tokens": -1, "completion_tokens": 0}),
    "usage_fraction": chat_body(said("x"), usage={"prompt_tokens": 1.5, "completion_tokens": 0}),
    "usage_bool": chat_body(said("x"), usage={"prompt_tokens": True, "completion_tokens": 0}),
    "usage_list": chat_body(said("x"), usage=[3, 4]),
}
BAD_RAW = {
    "text_missing": text_body(finish_reason="stop"),
    "text_int": text_body(text=42),
    "text_object": text_body(text={"value": "x"}),
}
