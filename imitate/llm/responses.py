"""What a 200 from an endpoint must hold before it is paid for, cached and used.

A response the tasks cannot use raises `MalformedResponse`: the call is retried like any malformed
response and the answer is never committed to the request cache, so no bad reply can be replayed
from it. The same checks run on every cached row before it is used (a row that fails is a miss).
"""

from __future__ import annotations

import math

from imitate.llm.retries import MalformedResponse

CHAT, COMPLETIONS = "chat/completions", "completions"
USAGE_COUNTS = ("prompt_tokens", "completion_tokens")
EXCERPT = 200  # characters of a bad value quoted in messages


def checked_response(response: object, path: str) -> dict:
    """`response` if it is a completion the tasks can read, else MalformedResponse.

    Chat: `choices[0].message.content` a string (or null: an empty reply, as OpenAI sends with a
    refusal). Completions: `choices[0].text` a string. `usage`, when given, an object whose token
    counts are non-negative integers (a count it lacks is charged its worst case).
    """
    choices = response.get("choices") if isinstance(response, dict) else None
    if not isinstance(response, dict) or not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"200 without choices from /{path}: {_excerpt(response)}")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise MalformedResponse(f"a choice that is not an object: {_excerpt(choice)}")
    if path == CHAT:
        message = choice.get("message")
        if not isinstance(message, dict) or "content" not in message:
            raise MalformedResponse(f"chat choice without a message content: {_excerpt(choice)}")
        _expect_text(message["content"], "choices[0].message.content", allow_null=True)
    else:
        _expect_text(choice.get("text"), "choices[0].text", allow_null=False)
    check_usage(response.get("usage"))
    return response


def check_usage(usage: object) -> None:
    """`usage` is absent, or an object whose token counts are non-negative integers."""
    if usage is None:
        return
    if not isinstance(usage, dict):
        raise MalformedResponse(f"usage is not an object: {_excerpt(usage)}")
    for name in USAGE_COUNTS:
        value = usage.get(name)
        if value is not None and not is_count(value):
            raise MalformedResponse(
                f"usage.{name} = {_excerpt(value)}: expected a non-negative integer"
            )


def is_count(value: object) -> bool:
    """A non-negative integer (JSON may spell it 12.0), not a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value >= 0 and value == int(value)


def is_number(value: object) -> bool:
    """A finite real number or -inf (a log-prob), not a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not math.isnan(value) and value != math.inf


def _expect_text(value: object, name: str, allow_null: bool) -> None:
    if isinstance(value, str) or (allow_null and value is None):
        return
    wanted = "a string or null" if allow_null else "a string"
    raise MalformedResponse(f"{name} is {_excerpt(value)}: expected {wanted}")


def _excerpt(value: object) -> str:
    return f"{type(value).__name__} {str(value)[:EXCERPT]}"
