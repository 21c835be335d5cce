"""The judge through the real OpenAI-compatible client: a scripted loopback server and `transformers serve`."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.judge.outcomes import judge_metrics
from imitate.judge.pairwise import PairwiseJudge
from imitate.llm import openai_client
from imitate.llm.verdicts import ERROR
from imitate.reply_pair import ReplyPair
from tests.conftest import REPO
from tests.judge.scripted import shown_replies
from tests.llm.loopback import LoopbackServer

PAIRS = [
    ReplyPair("1", "Name a primary colour.", "Red.", "Blue is one."),
    ReplyPair("2", "What is 2 + 2?", "4", "Four."),
]


def judge_cfg(**overrides) -> dict:
    return OmegaConf.to_container(OmegaConf.load(REPO / "conf/judge/pairwise.yaml")) | overrides


def test_both_orders_go_over_http_and_a_rerun_is_answered_from_the_cache(tmp_path) -> None:
    cache = tmp_path / "requests.sqlite"
    with LoopbackServer() as server:
        client = openai_client.OpenAIClient(server.url, "echo-model", cache=cache)
        try:
            rows = PairwiseJudge(client, **judge_cfg()).judge(PAIRS)
        finally:
            client.close()
        asked = server.prompts()
        assert len(asked) == 4
        shown = {shown_replies(prompt) for prompt in asked}
        # both orders of both pairs, in whatever order the concurrent requests arrived
        assert shown == {("Red.", "Blue is one."), ("Blue is one.", "Red."), ("4", "Four."), ("Four.", "4")}  # fmt: skip
        # the echo server repeats the prompt (format's [[C]] included): unparseable, never a tie
        assert [r["outcome"] for r in rows] == [ERROR, ERROR]
        assert judge_metrics(rows) == {metrics.JUDGE_UNPARSEABLE: 1.0}

        rerun_client = openai_client.OpenAIClient(server.url, "echo-model", cache=cache)
        try:
            again = PairwiseJudge(rerun_client, **judge_cfg()).judge(PAIRS)
            usage = rerun_client.usage_metrics()
        finally:
            rerun_client.close()
        assert server.count == 4  # the resumed run sent nothing new
        assert usage[metrics.LLM_CACHE_HITS] == 4 and again == rows


@pytest.mark.slow  # starts `transformers serve` with SmolLM2-135M on CPU: ~1 min on 2 cores
def test_judge_against_transformers_serve(served, tmp_path) -> None:
    url, model_dir = served
    client = openai_client.OpenAIClient(
        url, model_dir, cache=tmp_path / "requests.sqlite", timeout_s=120
    )
    try:
        rows = PairwiseJudge(client, **judge_cfg(max_new_tokens=24)).judge(PAIRS)
        usage = client.usage_metrics()
    finally:
        client.close()
    assert usage[metrics.LLM_REQUESTS] == 4  # both orders of both pairs went to the server
    assert all(row["candidate_first_reply"] and row["reference_first_reply"] for row in rows)
    # Greedy SmolLM2-135M in 24 tokens writes no verdict marker for these pairs (measured): each
    # pair is an error row, kept and counted, never a guessed verdict.
    outcomes = [
        (r["candidate_first_outcome"], r["reference_first_outcome"], r["outcome"]) for r in rows
    ]
    assert outcomes == [(ERROR, ERROR, ERROR)] * 2
    assert judge_metrics(rows) == {metrics.JUDGE_UNPARSEABLE: 1.0}
