"""The saved tokenizer's chat template renders exactly what ConversationEncoder trains on."""

from __future__ import annotations

import copy

import pytest
from transformers import AutoTokenizer

from imitate.data.format import ChatFormat, ConversationEncoder, add_special_tokens

CONVERSATIONS = [
    [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": " Blue.\n- light\n- dark"},
        {"role": "user", "content": "Another? {{ not jinja }} <|user|> inside"},
        {"role": "assistant", "content": "Green, and also red."},
    ],
    [
        {"role": "user", "content": "  leading spaces and émoji 🙂"},
        {"role": "assistant", "content": "Sure:\n\n```python\nprint('x')\n```"},
        {"role": "user", "content": "Thanks"},
        {"role": "assistant", "content": ""},
    ],
]
FORMATS = [
    ChatFormat(),
    ChatFormat(system="[S]", user="[U]", assistant="[A]", end_of_reply="[E]"),
    # SmolLM2's own ChatML markers (conf/model/smollm2_135m.yaml): text on existing special tokens
    ChatFormat("<|im_start|>system\n", "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n"),
]


def _ids(encoded) -> list[int]:
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def _tokenizer(smollm2_tokenizer, chat_format: ChatFormat):
    tokenizer = copy.deepcopy(smollm2_tokenizer)
    if chat_format.end_of_reply != "eos":
        tokenizer.add_special_tokens({"additional_special_tokens": [chat_format.end_of_reply]})
    add_special_tokens(tokenizer, chat_format)
    return tokenizer


@pytest.mark.parametrize("chat_format", FORMATS, ids=["default", "custom_markers", "chatml"])
def test_saved_template_gives_the_trained_ids_token_for_token(
    smollm2_tokenizer, chat_format, tmp_path
):
    trained = _tokenizer(smollm2_tokenizer, chat_format)
    trained.save_pretrained(tmp_path)
    served = AutoTokenizer.from_pretrained(tmp_path)  # what transformers/vllm serve would load
    encoder = ConversationEncoder(trained, chat_format)
    for turns in CONVERSATIONS:
        [(expected, _)] = encoder.encode_batch([{"turns": turns}])
        assert _ids(served.apply_chat_template(turns, tokenize=True)) == expected
        prompt = _ids(served.apply_chat_template(turns[:-1], add_generation_prompt=True))
        assert prompt == encoder.encode_prompt(turns[:-1])
        assert prompt[-len(encoder.marker_ids["assistant"]) :] == encoder.marker_ids["assistant"]


def test_an_unknown_role_is_an_error_naming_it(smollm2_tokenizer):
    tokenizer = _tokenizer(smollm2_tokenizer, ChatFormat())
    with pytest.raises(Exception, match="unknown role tool"):
        tokenizer.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)
