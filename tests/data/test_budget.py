"""Token budgets as the paper writes them: 0.3M ... 150M."""

from __future__ import annotations

import pytest

from imitate.data.budget import format_token_count, parse_token_count


@pytest.mark.parametrize(
    ("written", "tokens"),
    [
        ("0.3M", 300_000),
        ("1M", 1_000_000),
        ("150M", 150_000_000),
        ("300k", 300_000),
        ("1.5B", 1_500_000_000),
        (" 2m ", 2_000_000),
        ("1_000", 1_000),
        ("4096", 4096),
        (4096, 4096),
        (2e6, 2_000_000),
    ],
)
def test_parses_ladder_values(written, tokens):
    assert parse_token_count(written) == tokens


@pytest.mark.parametrize("tokens", [300_000, 1_000_000, 150_000_000, 2_500, 1_500_000_000, 7])
def test_format_round_trips(tokens):
    assert parse_token_count(format_token_count(tokens)) == tokens


def test_format_uses_the_papers_millions():
    assert [format_token_count(n) for n in (300_000, 150_000_000, 2_500)] == [
        "0.3M",
        "150M",
        "2.5k",
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("0.3X", "cannot be read as a token count"),
        ("-1M", "cannot be read as a token count"),
        ("M", "cannot be read as a token count"),
        ("0", "must be more than 0"),
        ("1.5", "not a whole number"),
        ("0.0000001M", "not a whole number"),
        (0.5, "not a whole number"),
        (True, "is a boolean"),
    ],
)
def test_bad_values_say_what_is_valid(bad, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_token_count(bad)
    assert "data.max_tokens=" in str(error.value) and "0.3M" in str(error.value)


def test_error_names_the_given_key():
    with pytest.raises(TypeError, match=r"data.ladder\[2\]=None has type NoneType"):
        parse_token_count(None, key="data.ladder[2]")  # type: ignore[arg-type]
