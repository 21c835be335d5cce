"""Turn conversations into token ids with special role markers and loss labels on replies only.

Layout of one conversation (the paper: special tokens mark the start of each user query and
each model output; the LM loss covers the model outputs only)::

    <|system|> sys text  <|user|> query  <|assistant|> reply <eos>  <|user|> ...
    ---------- no loss -------------------  ^ marker: no loss  ^^^^^^^^^^^ loss
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imitate.data.conversations import ASSISTANT, SYSTEM, USER

IGNORE_INDEX = -100  # label value that torch's cross-entropy skips


@dataclass(frozen=True)
class ChatFormat:
    """Marker strings for each role; ``end_of_reply`` closes every model output ("eos": the tokenizer's).

    A marker is one new special token (``<|user|>``), or text built on the base model's own special
    tokens (``<|im_start|>user\\n``), which is tokenised as text and needs no new embedding.
    """

    system: str = "<|system|>"
    user: str = "<|user|>"
    assistant: str = "<|assistant|>"
    end_of_reply: str = "eos"

    def marker(self, role: str) -> str:
        return {SYSTEM: self.system, USER: self.user, ASSISTANT: self.assistant}[role]

    def markers(self) -> list[str]:
        return [self.system, self.user, self.assistant]


def add_special_tokens(tokenizer, chat_format: ChatFormat) -> int:
    """Register the role markers the tokenizer lacks and imitate's chat template; returns how many were added.

    The template goes with the tokenizer into `save_pretrained`, so `apply_chat_template`, HF
    pipelines, `transformers serve` and `vllm serve` prompt the model the way it was trained.
    """
    missing = [m for m in chat_format.markers() if is_new_marker(tokenizer, m)]
    added = tokenizer.add_special_tokens({"additional_special_tokens": missing}) if missing else 0
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.chat_template = chat_template(chat_format)
    return added


def is_new_marker(tokenizer, marker: str) -> bool:
    """A marker to add as one new special token: not in the vocabulary and not text built on the
    tokenizer's own special tokens (ChatML's "<|im_start|>user\\n" stays text: the base model
    knows it, while a new token starts as an embedding the model has never seen)."""
    if marker in tokenizer.get_vocab():
        return False
    return not any(special in marker for special in tokenizer.all_special_tokens)


def chat_template(chat_format: ChatFormat) -> str:
    """A Jinja chat template that renders exactly what ConversationEncoder trains on.

    Role markers are special tokens, so the text between them tokenises on its own, as the
    encoder's per-turn tokenisation does; each assistant turn ends with the end-of-reply token.
    """
    end = "{{ eos_token }}" if chat_format.end_of_reply == "eos" else chat_format.end_of_reply
    markers = {SYSTEM: chat_format.system, USER: chat_format.user, ASSISTANT: chat_format.assistant}
    branches = "".join(
        f"{'{%- if' if i == 0 else '{%- elif'} message['role'] == '{role}' %}}"
        f"{_literal(marker)}{{{{ message['content'] }}}}{end if role == ASSISTANT else ''}"
        for i, (role, marker) in enumerate(markers.items())
    )
    return (
        "{%- for message in messages %}" + branches + "{%- else %}"
        "{{ raise_exception('imitate chat format: unknown role ' + message['role']) }}"
        "{%- endif %}{%- endfor %}"
        "{%- if add_generation_prompt %}" + _literal(chat_format.assistant) + "{%- endif %}"
    )


def _literal(text: str) -> str:
    # Markers are written as Jinja string literals so braces or quotes in them stay text.
    return "{{ " + repr(text) + " }}"


class ConversationEncoder:
    """Encodes canonical conversations into ``(input_ids, labels)`` with a fast tokenizer, in batches."""

    def __init__(self, tokenizer, chat_format: ChatFormat) -> None:
        self.tokenizer = tokenizer
        self.format = chat_format
        self.marker_ids = {
            role: self._marker_ids(chat_format.marker(role)) for role in (SYSTEM, USER, ASSISTANT)
        }
        end = tokenizer.eos_token if chat_format.end_of_reply == "eos" else chat_format.end_of_reply
        self.end_id = self._single_id(end)

    def _marker_ids(self, marker: str) -> list[int]:
        if not is_new_marker(self.tokenizer, marker) and marker not in self.tokenizer.get_vocab():
            return list(self.tokenizer(marker, add_special_tokens=False)["input_ids"])
        return [self._single_id(marker)]

    def _single_id(self, token: str) -> int:
        ids = self.tokenizer.convert_tokens_to_ids([token])
        if (
            not ids
            or ids[0] is None
            or ids[0] == self.tokenizer.unk_token_id
            and token != self.tokenizer.unk_token
        ):
            raise ValueError(
                f"chat format token {token!r} is not in the tokenizer's vocabulary; "
                "call add_special_tokens(tokenizer, chat_format) first"
            )
        return ids[0]

    def encode_batch(self, conversations: Sequence[dict]) -> list[tuple[list[int], list[int]]]:
        """One tokenizer call for all turns of all conversations (the fast path), then assembly."""
        turns = [turn for conv in conversations for turn in conv["turns"]]
        pieces = self._encode_turns(turns)
        encoded, cursor = [], 0
        for conv in conversations:
            count = len(conv["turns"])
            encoded.append(self._assemble(conv["turns"], pieces[cursor : cursor + count]))
            cursor += count
        return encoded

    def _encode_turns(self, turns: Sequence[dict]) -> list[tuple[list[int], list[int]]]:
        """Each turn's marker and text tokenised together, as the chat template renders them (a
        text marker's last character may merge with the text's first), with its labels: the
        reply's tokens, not those that start inside the marker."""
        if not turns:
            return []
        markers = [self.format.marker(turn["role"]) for turn in turns]
        texts = [marker + turn["content"] for marker, turn in zip(markers, turns, strict=True)]
        batch = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        pieces = []
        for turn, marker, ids, offsets in zip(
            turns, markers, batch["input_ids"], batch["offset_mapping"], strict=True
        ):
            supervised = turn["role"] == ASSISTANT
            labels = [
                token if supervised and start >= len(marker) else IGNORE_INDEX
                for token, (start, _) in zip(ids, offsets, strict=True)
            ]
            pieces.append((list(ids), labels))
        return pieces

    def _assemble(
        self, turns: Sequence[dict], pieces: Sequence[tuple[list[int], list[int]]]
    ) -> tuple[list[int], list[int]]:
        input_ids: list[int] = []
        labels: list[int] = []
        for turn, (ids, turn_labels) in zip(turns, pieces, strict=True):
            input_ids.extend(ids)
            labels.extend(turn_labels)
            if turn["role"] == ASSISTANT:
                input_ids.append(self.end_id)
                labels.append(self.end_id)
        return input_ids, labels

    def encode_prompt(self, turns: Sequence[dict]) -> list[int]:
        """Ids of a dialogue so far plus the assistant marker: what generation continues from."""
        ids, _ = self._assemble(turns, self._encode_turns(turns))
        return ids + self.marker_ids[ASSISTANT]
