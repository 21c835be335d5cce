"""Label masking at token level: loss on every assistant token, none on user/system tokens or markers."""

from __future__ import annotations

import copy

import pytest

from imitate.data.format import IGNORE_INDEX, ChatFormat, ConversationEncoder, add_special_tokens

CONVERSATION = {
    "id": "t",
    "source": "test",
    "turns": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another, please?"},
        {"role": "assistant", "content": "Green, and also red."},
    ],
}


@pytest.fixture
def encoder(smollm2_tokenizer):
    tokenizer = smollm2_tokenizer
    add_special_tokens(tokenizer, ChatFormat())
    return ConversationEncoder(tokenizer, ChatFormat())


def test_markers_are_single_new_special_tokens(encoder) -> None:
    tokenizer = encoder.tokenizer
    for marker in ChatFormat().markers():
        assert len(tokenizer(marker, add_special_tokens=False)["input_ids"]) == 1
    assert sorted(len(ids) for ids in encoder.marker_ids.values()) == [1, 1, 1]
    assert len({ids[0] for ids in encoder.marker_ids.values()}) == 3


def test_labels_cover_exactly_the_assistant_tokens(encoder) -> None:
    tokenizer = encoder.tokenizer
    [(input_ids, labels)] = encoder.encode_batch([CONVERSATION])
    expected_ids, expected_labels = [], []
    for turn in CONVERSATION["turns"]:
        text_ids = tokenizer(turn["content"], add_special_tokens=False)["input_ids"]
        expected_ids += encoder.marker_ids[turn["role"]]
        expected_labels.append(IGNORE_INDEX)
        if turn["role"] == "assistant":
            expected_ids += text_ids + [encoder.end_id]
            expected_labels += text_ids + [encoder.end_id]
        else:
            expected_ids += text_ids
            expected_labels += [IGNORE_INDEX] * len(text_ids)
    assert input_ids == expected_ids
    assert labels == expected_labels


def test_supervised_tokens_decode_to_the_replies_only(encoder) -> None:
    tokenizer = encoder.tokenizer
    [(input_ids, labels)] = encoder.encode_batch([CONVERSATION])
    supervised = [t for t in labels if t != IGNORE_INDEX]
    text = tokenizer.decode(supervised)
    assert text == "Blue." + tokenizer.eos_token + "Green, and also red." + tokenizer.eos_token
    markers = {ids[0] for ids in encoder.marker_ids.values()}
    marker_positions = [i for i, t in enumerate(input_ids) if t in markers]
    assert [input_ids[i] for i in marker_positions] == [
        encoder.marker_ids[r][0] for r in ("system", "user", "assistant", "user", "assistant")
    ]
    assert all(labels[i] == IGNORE_INDEX for i in marker_positions)


def test_prompt_encoding_ends_with_the_assistant_marker(encoder) -> None:
    ids = encoder.encode_prompt(CONVERSATION["turns"][:2])
    assert ids[-1:] == encoder.marker_ids["assistant"]
    assert ids[:1] == encoder.marker_ids["system"]


CHATML = ChatFormat(
    "<|im_start|>system\n", "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n"
)


def test_markers_on_the_models_own_special_tokens_are_text_not_new_tokens(
    smollm2_tokenizer,
) -> None:
    """SmolLM2's ChatML markers: no new token (whose embedding the model has never seen)."""
    tokenizer = copy.deepcopy(smollm2_tokenizer)
    size = len(tokenizer)
    assert add_special_tokens(tokenizer, CHATML) == 0 and len(tokenizer) == size
    encoder = ConversationEncoder(tokenizer, CHATML)
    [(input_ids, labels)] = encoder.encode_batch([CONVERSATION])
    supervised = tokenizer.decode([t for t in labels if t != IGNORE_INDEX])
    assert supervised == "Blue.<|im_end|>Green, and also red.<|im_end|>"
    assert tokenizer.decode(input_ids).startswith(
        "<|im_start|>system\nYou are terse.<|im_start|>user\nName a colour.<|im_end|>\n"
        "<|im_start|>assistant\nBlue.<|im_end|><|im_start|>user\n"
    )


def test_unknown_marker_is_a_clear_error(smollm2_tokenizer) -> None:
    with pytest.raises(ValueError, match="not in the tokenizer's vocabulary.*add_special_tokens"):
        ConversationEncoder(smollm2_tokenizer, ChatFormat(user="<|never-added|>"))
