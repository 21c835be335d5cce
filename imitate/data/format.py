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
    """Marker strings for each role; ``end_of_reply`` closes every model output ("eos": the tokenizer's)."""

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
    missing = [m for m in chat_format.markers() if m not in tokenizer.get_vocab()]
    added = tokenizer.add_special_tokens({"additional_special_tokens": missing}) if missing else 0
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.chat_template = chat_template(chat_format)
    return added


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
            role: self._single_id(chat_format.marker(role)) for role in (SYSTEM, USER, ASSISTANT)
        }
        end = tokenizer.eos_token if chat_format.end_of_reply == "eos" else chat_format.end_of_reply
        self.end_id = self._single_id(end)

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
        texts = [turn["content"] for conv in conversations for turn in conv["turns"]]
        turn_ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        encoded, cursor = [], 0
        for conv in conversations:
            count = len(conv["turns"])
            encoded.append(self._assemble(conv["turns"], turn_ids[cursor : cursor + count]))
            cursor += count
        return encoded

    def _assemble(
        self, turns: Sequence[dict], turn_ids: Sequence[list[int]]
    ) -> tuple[list[int], list[int]]:
        input_ids: list[int] = []
        labels: list[int] = []
        for turn, ids in zip(turns, turn_ids, strict=True):
            input_ids.append(self.marker_ids[turn["role"]])
            labels.append(IGNORE_INDEX)
            if turn["role"] == ASSISTANT:
                input_ids.extend(ids)
                input_ids.append(self.end_id)
                labels.extend(ids)
                labels.append(self.end_id)
            else:
                input_ids.extend(ids)
                labels.extend([IGNORE_INDEX] * len(ids))
        return input_ids, labels

    def encode_prompt(self, turns: Sequence[dict]) -> list[int]:
        """Ids of a dialogue so far plus the assistant marker: what generation continues from."""
        ids, _ = self._assemble(
            turns,
            self.tokenizer([t["content"] for t in turns], add_special_tokens=False)["input_ids"],
        )
        return ids + [self.marker_ids[ASSISTANT]]
