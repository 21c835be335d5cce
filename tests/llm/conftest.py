"""Fixtures for the LLM client tests: a scripted loopback server and clients pointed at it."""

from __future__ import annotations

import pytest

from imitate.llm.openai_client import OpenAIClient
from tests.llm.loopback import LoopbackServer

FAST_RETRIES = {"backoff_base_s": 0.001, "backoff_max_s": 5.0, "timeout_s": 5.0}


@pytest.fixture
def server():
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def make_client(tmp_path):
    """OpenAIClient(server.url, ...) with a cache under tmp_path and fast retries; closed after."""
    clients = []

    def make(server: LoopbackServer, **overrides) -> OpenAIClient:
        settings = {"model": "echo-model", "cache": tmp_path / "requests.sqlite", **FAST_RETRIES}
        client = OpenAIClient(server.url, **(settings | overrides))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
