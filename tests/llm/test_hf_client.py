"""The in-process backend: chat requests prompt as trained, stops and samples, log-probs, validation."""

from __future__ import annotations

import copy

import pytest
import torch

from imitate.data.format import ChatFormat, ConversationEncoder, add_special_tokens
from imitate.llm.base import GenerationRequest, cut_at_stop
from imitate.llm.hf import HFClient
from imitate.llm.hf_batching import candidate_token_ids, next_token_logprobs_one_by_one
from tests.eval.conftest import tiny_llama
from tests.support.llm_protocol import assert_implements_llm

TURNS = (
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Name a colour."},
)


@pytest.fixture(scope="module")
def trained(smollm2_tokenizer):
    """A tokenizer as training leaves it (role markers + imitate's template) and a tiny model."""
    tokenizer = copy.deepcopy(smollm2_tokenizer)
    add_special_tokens(tokenizer, ChatFormat())
    return tiny_llama(len(tokenizer), seed=3), tokenizer


def test_hf_client_answers_every_member_of_the_llm_protocol(trained):
    client = HFClient(*trained)
    assert_implements_llm(client)
    assert client.context_length == 2048  # tiny_llama's max_position_embeddings
    assert client.usage_metrics() == {}  # an in-process model has no request ledger


def test_chat_request_continues_from_the_trained_prompt_greedily(trained):
    model, tokenizer = trained
    prompt = ConversationEncoder(tokenizer, ChatFormat()).encode_prompt(TURNS)
    expected = model.generate(
        torch.tensor([prompt]), max_new_tokens=6, do_sample=False, pad_token_id=0
    )[0, len(prompt) :]
    [[reply]] = HFClient(model, tokenizer).generate(
        [GenerationRequest(messages=TURNS, max_new_tokens=6)]
    )
    ends = {tokenizer.eos_token_id}
    kept = []
    for token in expected.tolist():
        if token in ends:
            break
        kept.append(token)
    assert reply == tokenizer.decode(kept, skip_special_tokens=True)


def test_batched_prompts_of_different_lengths_match_one_at_a_time(trained):
    model, tokenizer = trained
    llm = HFClient(model, tokenizer, batch_size=3)
    prompts = ["Q: a?\nA:", "A much longer prompt, with many more tokens in it. Q: b?\nA:", "x"]
    requests = [GenerationRequest(prompt=p, max_new_tokens=5) for p in prompts]
    together = llm.generate(requests)
    alone = [HFClient(model, tokenizer, batch_size=1).generate([r])[0] for r in requests]
    assert together == alone


def test_texts_are_cut_at_the_first_stop_sequence_and_n_samples_come_back(trained):
    model, tokenizer = trained
    llm = HFClient(model, tokenizer)
    [free] = llm.generate([GenerationRequest(prompt="Once", max_new_tokens=12)])
    stop = free[0][2:4] or " "
    [stopped] = llm.generate([GenerationRequest(prompt="Once", max_new_tokens=12, stop=(stop,))])
    assert stopped[0] == cut_at_stop(free[0], [stop]) and stop not in stopped[0]
    torch.manual_seed(0)
    [samples] = llm.generate(
        [GenerationRequest(prompt="Once", max_new_tokens=8, temperature=1.0, n=3)]
    )
    assert len(samples) == 3


def test_next_token_logprobs_equal_the_one_by_one_reference(trained):
    model, tokenizer = trained
    prompts = ["The answer is", "Question: 2+2? Answer:", "The answer is not"]
    scores = HFClient(model, tokenizer, scoring_batch_size=2).next_token_logprobs(
        prompts, [" A", " B"]
    )
    ids = [tokenizer(p).input_ids for p in prompts]
    reference = next_token_logprobs_one_by_one(
        model, ids, candidate_token_ids(tokenizer, [" A", " B"])
    )
    torch.testing.assert_close(torch.tensor(scores), reference, atol=1e-4, rtol=1e-4)


def test_a_chat_request_without_a_template_says_what_to_do(smollm2_tokenizer):
    bare = copy.deepcopy(smollm2_tokenizer)
    bare.chat_template = None
    llm = HFClient(tiny_llama(len(bare)), bare)
    with pytest.raises(ValueError, match="chat template"):
        llm.generate([GenerationRequest(messages=TURNS, max_new_tokens=2)])


def test_fingerprint_changes_with_weights_and_template(trained):
    model, tokenizer = trained
    other = copy.deepcopy(tokenizer)
    other.chat_template = "{{ messages[0]['content'] }}"
    assert HFClient(model, tokenizer).fingerprint() == HFClient(model, tokenizer).fingerprint()
    assert HFClient(model, tokenizer).fingerprint() != HFClient(model, other).fingerprint()
    assert (
        HFClient(tiny_llama(len(tokenizer), seed=4), tokenizer).fingerprint()
        != HFClient(model, tokenizer).fingerprint()
    )


def test_a_requests_repetition_penalty_decodes_as_the_models_own(trained):
    model, tokenizer = trained
    prompt = tokenizer("Once upon a time").input_ids

    def greedy(penalty: float) -> str:
        ids = model.generate(
            torch.tensor([prompt]), max_new_tokens=8, do_sample=False,
            repetition_penalty=penalty, pad_token_id=0,
        )[0, len(prompt) :].tolist()  # fmt: skip
        ends = {tokenizer.eos_token_id}
        kept = ids[: next((i for i, t in enumerate(ids) if t in ends), len(ids))]
        return tokenizer.decode(kept, skip_special_tokens=True)

    plain = GenerationRequest(prompt="Once upon a time", max_new_tokens=8)
    penalised = GenerationRequest(
        prompt="Once upon a time", max_new_tokens=8, repetition_penalty=1.2
    )
    # One call, two decodings: requests are grouped by their penalty, each decoded as asked.
    assert HFClient(model, tokenizer).generate([plain, penalised]) == [[greedy(1.0)], [greedy(1.2)]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of"),
        ({"prompt": "x", "messages": ({"role": "user", "content": "y"},)}, "exactly one of"),
        ({"messages": ({"role": "robot", "content": "y"},)}, r"messages\[0\]"),
        ({"prompt": "x", "n": 0}, "n=0"),
    ],
)
def test_bad_requests_are_refused_with_what_is_valid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerationRequest(**kwargs)
