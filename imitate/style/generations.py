"""The generations table: a model's replies beside the teacher's on held-out prompts (one home).

Written by the style task (``eval/generations.json`` in a run's artifacts, MLflow's
``{"columns": [...], "data": [...]}`` table JSON); read by ``imitate.style.prompt_sets``
(``format: generations``) and by the rating app (``python -m imitate.rate serve --run``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from imitate.llm.base import LLM, GenerationRequest, user_turn

GENERATIONS_ARTIFACT = "eval/generations.json"
TRUNCATED = "truncated"  # the model reply used every new token: it may end mid-sentence
COLUMNS = ("id", "prompt", "model_reply", "teacher_reply", TRUNCATED)
REQUIRED_COLUMNS = ("prompt", "model_reply", "teacher_reply")  # older runs lack id, truncated


class PromptWithReference(Protocol):
    """A single-turn prompt and the teacher's reply to it (``imitate.style.prompt_sets.PromptItem``)."""

    @property
    def id(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def reference(self) -> str: ...


def generate_replies(
    llm: LLM,
    items: Sequence[PromptWithReference],
    max_new_tokens: int,
    repetition_penalty: float = 1.0,
) -> list[dict]:
    """Greedy replies to each prompt as a user turn, one batched call: rows of the generations table.

    ``truncated``: the reply used all ``max_new_tokens`` (it may end mid-sentence); None when the
    backend cannot count tokens.
    """
    requests = [
        GenerationRequest(
            user_turn(i.prompt),
            max_new_tokens=max_new_tokens,
            repetition_penalty=repetition_penalty,
        )
        for i in items
    ]
    replies = [texts[0].strip() for texts in llm.generate(requests)] if requests else []
    return [
        {
            "id": item.id,
            "prompt": item.prompt,
            "model_reply": reply,
            "teacher_reply": item.reference,
            "truncated": hit_token_limit(llm, reply, max_new_tokens),
        }
        for item, reply in zip(items, replies, strict=True)
    ]


def hit_token_limit(llm: LLM, reply: str, max_new_tokens: int) -> bool | None:
    count = llm.count_tokens(reply)
    # Decoding drops the end token and stripping may drop a space: a stopped reply is shorter.
    return None if count is None else count >= max_new_tokens - 1


def read_table(path: Path) -> list[dict]:
    """Rows of a generations table file; a file that is not one raises, naming the columns."""
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg})") from error
    if not isinstance(table, dict) or not {"columns", "data"} <= set(table):
        raise ValueError(
            f"{path}: not a generations table; expected an MLflow table "
            f"{{'columns': [...], 'data': [...]}} with columns {', '.join(REQUIRED_COLUMNS)} "
            f"(the {GENERATIONS_ARTIFACT} a run logs)"
        )
    columns = table["columns"]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{path}: generations table lacks column(s) {missing}; has {columns}")
    rows = []
    for number, row in enumerate(table["data"]):
        if len(row) != len(columns):
            raise ValueError(f"{path}: row {number} has {len(row)} cells, {len(columns)} columns")
        rows.append({"id": str(number)} | dict(zip(columns, row, strict=True)))
    return rows
