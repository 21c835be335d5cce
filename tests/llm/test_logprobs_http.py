"""Log-probs over HTTP equal in-process log-probs for the same tiny model, and MMLU predicts the same."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from imitate.eval.mmlu import MMLUTask
from imitate.llm.hf import HFClient
from imitate.llm.hf_batching import candidate_token_ids, next_token_logprobs_one_by_one
from imitate.llm.openai_logprobs import top_scores
from tests.eval.conftest import FIXTURES, tiny_llama
from tests.llm.loopback import LoopbackServer
from tests.llm.model_server import ModelCompletions

SERIAL = {"max_concurrency": 2, "timeout_s": 120.0}
LETTERS = [" A", " B", " C", " D"]
PROMPTS = [
    "What is 2 + 2?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer:",
    "Which is a prime?\nA. 4\nB. 6\nC. 7\nD. 8\nAnswer:",
    "The capital of France is",
]


@pytest.fixture(scope="module")
def tiny(smollm2_tokenizer):
    return tiny_llama(len(smollm2_tokenizer), seed=7), smollm2_tokenizer


@pytest.fixture
def model_server(tiny):
    # one forward at a time on 2 shared cores: few requests in flight, generous timeouts
    with LoopbackServer(completion=ModelCompletions(*tiny)) as running:
        yield running


def in_process(tiny, prompts, candidates) -> list[list[float]]:
    model, tokenizer = tiny
    ids = [tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
    letters = candidate_token_ids(tokenizer, candidates)
    return next_token_logprobs_one_by_one(model, ids, letters).tolist()


def test_echo_logprobs_over_http_equal_in_process(tiny, model_server, make_client) -> None:
    client = make_client(model_server, **SERIAL, logprobs="completions_echo")
    over_http = client.next_token_logprobs(PROMPTS, LETTERS)
    expected = in_process(tiny, PROMPTS, LETTERS)
    hf = HFClient(*tiny).next_token_logprobs(PROMPTS, LETTERS)
    assert model_server.count == len(PROMPTS) * len(LETTERS)
    for row, want, hf_row in zip(over_http, expected, hf, strict=True):
        assert row == pytest.approx(want, abs=1e-4)
        assert row == pytest.approx(hf_row, abs=1e-4)
    assert client.next_token_logprobs(PROMPTS, LETTERS) == over_http  # from the cache
    assert model_server.count == len(PROMPTS) * len(LETTERS)
    with sqlite3.connect(client.cache.path) as raw:  # the score is kept, not the echoed prompt
        kept = [json.loads(text) for (text,) in raw.execute("SELECT response FROM responses")]
    assert len(kept) == 12 and all(set(response) == {"score"} for response in kept)


def test_top_logprobs_over_http_equal_in_process(tiny, model_server, make_client) -> None:
    model, tokenizer = tiny
    ids = tokenizer(PROMPTS[2], add_special_tokens=False).input_ids
    [row] = next_token_logprobs_one_by_one(model, [ids], list(range(len(tokenizer))))
    likely = [tokenizer.decode([int(i)]) for i in row.topk(3).indices]
    unlikely = tokenizer.decode([int(row.argmin())])
    client = make_client(model_server, **SERIAL, logprobs="completions_top", top_logprobs=5)
    [scores] = client.next_token_logprobs([PROMPTS[2]], likely + [unlikely])
    assert scores[:3] == pytest.approx([float(row.topk(3).values[i]) for i in range(3)], abs=1e-4)
    assert scores[3] == -math.inf  # outside the top 5: below the 5th, not guessed


def test_a_candidate_that_merges_with_the_prompt_is_refused(model_server, make_client) -> None:
    client = make_client(model_server, **SERIAL, logprobs="completions_echo")
    with pytest.raises(ValueError, match=r"candidate 'ld' does not start a new token"):
        client.next_token_logprobs(["hello wor"], ["ld"])


def test_chat_top_reads_openais_response_shape() -> None:
    # gpt-4o-mini's answer to "...Answer:" with logprobs=true, top_logprobs=3 (values rounded)
    response = {
        "choices": [
            {
                "message": {"role": "assistant", "content": "B"},
                "logprobs": {
                    "content": [
                        {
                            "token": "B",
                            "logprob": -0.2,
                            "top_logprobs": [
                                {"token": "B", "logprob": -0.2, "bytes": [66]},
                                {"token": " B", "logprob": -2.0, "bytes": [32, 66]},
                                {"token": "A", "logprob": -3.0, "bytes": [65]},
                            ],
                        }
                    ]
                },
            }
        ]
    }
    scores = top_scores(response, LETTERS, chat=True, where="here")
    assert scores[0] == pytest.approx(-3.0)
    assert scores[1] == pytest.approx(math.log(math.exp(-0.2) + math.exp(-2.0)))
    assert scores[2:] == [-math.inf, -math.inf]


def run_mmlu(llm, data, **task) -> list[tuple[str, str]]:
    records = MMLUTask(data=str(data), **task).run(llm).records
    return [(r["subject"], r["predicted"]) for r in records], [r["logprobs"] for r in records]


def test_mmlu_over_http_predicts_as_in_process(tiny, model_server, make_client) -> None:
    client = make_client(model_server, **SERIAL, logprobs="completions_echo")
    served, served_logprobs = run_mmlu(client, FIXTURES / "mmlu", shots=2)
    local, local_logprobs = run_mmlu(HFClient(*tiny), FIXTURES / "mmlu", shots=2)
    assert served == local and len(served) == 7
    for a, b in zip(served_logprobs, local_logprobs, strict=True):
        assert a == pytest.approx(b, abs=1e-4)


@pytest.mark.shared_data
def test_mmlu_over_http_on_shared_rows(tiny, model_server, make_client, shared_data) -> None:
    task = {"shots": 5, "subjects": ["abstract_algebra", "anatomy"], "limit": 2}
    client = make_client(model_server, **SERIAL, logprobs="completions_echo")
    served, _ = run_mmlu(client, shared_data / "mmlu", **task)
    local, _ = run_mmlu(HFClient(*tiny), shared_data / "mmlu", **task)
    assert served == local and len(served) == 4
