"""A run that dies after a chunk was answered (and cached) but before it was committed: the resumed
run's manifest still counts every answer the billing server charged, once (the kill -9 version is
test_served_teacher's slow test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imitate.llm.openai_client import OpenAIClient
from tests.support.teacher_jobs import jsonl_job, make_job
from tests.teacher.qa_server import PRICES, QAServer


class Died(Exception):
    """Stands for the kill: nothing after it runs, the commit included."""


class DiesAfter:
    """An OpenAIClient whose `calls`-th `generate` dies after its answers were cached."""

    def __init__(self, client: OpenAIClient, calls: int) -> None:
        self.client, self.calls = client, calls

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def generate(self, requests):
        texts = self.client.generate(requests)
        self.calls -= 1
        if self.calls == 0:
            raise Died
        return texts


@pytest.fixture
def billing():
    with QAServer() as server:
        yield server


def client(server: QAServer, tmp_path: Path, **overrides) -> OpenAIClient:
    settings = {"cache": tmp_path / "requests.sqlite", "max_concurrency": 4, **PRICES}
    return OpenAIClient(server.url, "qa-teacher", **(settings | overrides))


def usage(output: Path) -> dict:
    return json.loads(output.with_name(output.stem + ".manifest.json").read_text())["usage"]


@pytest.mark.parametrize("kind", ["nq_synthetic", "collect"])
def test_answers_after_the_last_commit_are_counted_once_on_resume(
    billing: QAServer, tmp_path: Path, kind: str
) -> None:
    output = tmp_path / "out.jsonl"

    def job():
        if kind == "nq_synthetic":
            return make_job(output, n_examples=30, batch_size=3)
        return jsonl_job(output, batch_size=2)

    with pytest.raises(Died):  # chunk 1 committed; chunk 2 answered and cached, not committed
        job().run(DiesAfter(client(billing, tmp_path), calls=2))
    answered_by_first = sum(billing.answers.values())
    assert usage(output)["llm/requests"] < answered_by_first  # what the kill kept out
    with pytest.raises(Died):  # chunk 2 again, all from the cache: recovered, then dies again
        job().run(DiesAfter(client(billing, tmp_path), calls=1))
    assert sum(billing.answers.values()) == answered_by_first
    assert usage(output)["llm/requests"] == answered_by_first  # the resume's first commit
    final = job().run(client(billing, tmp_path))  # the third run must not count chunk 2 again
    assert final["stopped"] in ("n_examples", "done")
    assert set(billing.answers.values()) == {1}  # nothing was answered twice
    assert final["usage"]["llm/requests"] == sum(billing.answers.values())
    assert final["usage"]["llm/cost_usd"] == billing.billed_usd > 0


def test_a_fresh_job_does_not_count_what_another_job_paid(billing: QAServer, tmp_path) -> None:
    first = make_job(tmp_path / "a.jsonl", n_examples=30).run(client(billing, tmp_path))
    assert first["usage"]["llm/cost_usd"] == billing.billed_usd
    with pytest.raises(Died):  # the same requests for another output: answered by the cache
        make_job(tmp_path / "b.jsonl", n_examples=30).run(DiesAfter(client(billing, tmp_path), 2))
    again = make_job(tmp_path / "b.jsonl", n_examples=30).run(client(billing, tmp_path))
    assert again["usage"].get("llm/requests", 0.0) == 0.0  # paid by a.jsonl's job, counted there
    assert again["usage"]["llm/cache_hits"] == first["counts"]["requests"]
    assert billing.billed_usd == first["usage"]["llm/cost_usd"]
