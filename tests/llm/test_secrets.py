"""The API key (a sentinel in the named env var) reaches the server and nowhere else."""

from __future__ import annotations

import logging

import pytest

from imitate.llm.base import GenerationRequest
from imitate.llm.retries import EndpointError

SENTINEL = "sk-SENTINEL-3f9c2a7e-never-log-me"
ENV = "IMITATE_TEST_API_KEY"


def test_key_is_sent_but_never_stored_logged_or_raised(
    server, make_client, monkeypatch, caplog, tmp_path
) -> None:
    monkeypatch.setenv(ENV, SENTINEL)
    caplog.set_level(logging.DEBUG)  # the SDK's and httpx's debug logs included
    client = make_client(server, api_key_env=ENV, max_retries=1)
    client.generate([GenerationRequest(prompt="hello", n=2, temperature=1.0)])
    server.script.extend(["500", "500", "auth_echo_400"])
    errors = []
    for prompt in ("fails after retries", "server quotes the header"):
        with pytest.raises(EndpointError) as error:
            client.generate([GenerationRequest(prompt=prompt)])
        errors.append(error.value)

    assert server.arrivals[0]["headers"]["authorization"] == f"Bearer {SENTINEL}"
    assert "***" in str(errors[1])  # the server put the key in its error body: redacted
    texts = [repr(client), str(vars(client.ledger)), client.fingerprint(), caplog.text]
    texts += [str(e) for e in errors] + [repr(e.args) for e in errors]
    for text in texts:
        assert SENTINEL not in text
    client.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "requests.sqlite" for p in files)
    for path in files:  # the cache and its WAL / shm files
        assert SENTINEL.encode() not in path.read_bytes(), path
        assert b"Bearer" not in path.read_bytes(), path
