"""Token budgets written the way the paper's ladder is (``0.3M`` ... ``150M``)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX_SCALE = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9}
_TOKEN_COUNT = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([a-zA-Z]?)\s*$")
_VALID = "a whole number of tokens such as 300000, 300k, 0.3M, 150M or 1.5B"


def parse_token_count(value: int | str, key: str = "data.max_tokens") -> int:
    """``"0.3M" -> 300000``; ints pass through. ``key`` names the setting in error messages."""
    if isinstance(value, bool):
        raise ValueError(f"{key}={value!r} is a boolean; expected {_VALID}")
    if isinstance(value, int):
        return _check_positive(value, value, key)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{key}={value!r} is not a whole number of tokens; expected {_VALID}")
        return _check_positive(int(value), value, key)
    if not isinstance(value, str):
        raise TypeError(f"{key}={value!r} has type {type(value).__name__}; expected {_VALID}")
    match = _TOKEN_COUNT.match(value)
    suffix = match.group(2).lower() if match else ""
    if match is None or suffix not in _SUFFIX_SCALE:
        raise ValueError(f"{key}={value!r} cannot be read as a token count; expected {_VALID}")
    try:
        tokens = Decimal(match.group(1).replace("_", "")) * _SUFFIX_SCALE[suffix]
    except InvalidOperation as error:  # the regex should make this unreachable
        raise ValueError(f"{key}={value!r}: bad number; expected {_VALID}") from error
    if tokens != tokens.to_integral_value():
        raise ValueError(
            f"{key}={value!r} is {tokens} tokens, not a whole number; expected {_VALID}"
        )
    return _check_positive(int(tokens), value, key)


def _check_positive(tokens: int, value: object, key: str) -> int:
    if tokens <= 0:
        raise ValueError(f"{key}={value!r} must be more than 0 tokens; expected {_VALID}")
    return tokens


def format_token_count(tokens: int) -> str:
    """``300000 -> "0.3M"``, the paper's ladder style, for run names and tables."""
    # From 100k up the paper writes millions (0.3M); below that thousands read better.
    for suffix, scale, starts_at in (("B", 10**9, 10**9), ("M", 10**6, 10**5), ("k", 10**3, 10**3)):
        if tokens >= starts_at:
            number = f"{Decimal(tokens) / scale:f}"
            return (number.rstrip("0").rstrip(".") if "." in number else number) + suffix
    return str(tokens)
