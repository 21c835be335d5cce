"""The generations table: a model's replies beside the teacher's on held-out prompts (one home).

Written by the style task (``eval/generations.json`` in a run's artifacts, MLflow's
``{"columns": [...], "data": [...]}`` table JSON); read by ``imitate.style.prompt_sets``
(``format: generations``) and by the rating app (``python -m imitate.rate serve --run``).

``ReplyShelf``: the replies one evaluation of one model has generated so far, by ``replies_key``
(prompts, references, decoding settings), so the style and judge tasks generate them once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from imitate.hashing import short_hash
from imitate.llm.base import LLM, GenerationRequest, user_turn

log = logging.getLogger(__name__)

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


def replies_key(
    prompt_set: str,
    items: Sequence[PromptWithReference],
    max_new_tokens: int,
    repetition_penalty: float,
) -> str:
    """Everything besides the model that decides ``generate_replies``' rows, readable in logs:
    the prompt set's name and size, a hash of its ids, prompts and references, the decoding."""
    content = short_hash([[i.id, i.prompt, i.reference] for i in items])[:8]
    return (
        f"{prompt_set}: {len(items)} prompts #{content}, max_new_tokens={max_new_tokens}, "
        f"repetition_penalty={repetition_penalty}"
    )


class ReplyShelf:
    """The generations-table rows one evaluation of ONE model has produced, by ``replies_key``.

    ``run_tasks`` makes one per evaluation and hands it to the tasks that generate replies (style,
    judge): the first task to need a key generates, later ones reuse the rows. Reused rows are the
    rows the task would have generated (same model, prompts and greedy settings), so the tasks'
    result cache, keyed by model fingerprint and task config, stays exact.
    """

    def __init__(self) -> None:
        self._tables: dict[str, tuple[str, list[dict]]] = {}  # key -> (task that generated, rows)

    def put(self, key: str, rows: Sequence[Mapping], task: str) -> None:
        """Keep ``rows`` (any rows with the generations table's columns) under ``key``."""
        self._tables[key] = (task, [{column: row[column] for column in COLUMNS} for row in rows])

    def replies(
        self,
        llm: LLM,
        items: Sequence[PromptWithReference],
        max_new_tokens: int,
        repetition_penalty: float,
        *,
        prompt_set: str,
        task: str,
    ) -> list[dict]:
        """``generate_replies``' rows for ``task``: an earlier task's under the same ``replies_key``,
        else generated now and kept. One log line says which case applied: reused (from which
        task), or generated because no earlier task generated replies, or because the earlier
        ones were for other prompts or settings (both named)."""
        key = replies_key(prompt_set, items, max_new_tokens, repetition_penalty)
        if key in self._tables:
            source, rows = self._tables[key]
            log.info("eval task %s: reusing the %s task's %d replies (%s)", task, source, len(rows), key)  # fmt: skip
            return [dict(row) for row in rows]
        if self._tables:
            earlier = "; ".join(f"{source}: {k}" for k, (source, _) in self._tables.items())
            log.info("eval task %s: generating replies for %s; the replies generated earlier in "
                     "this evaluation are for other prompts or settings (%s)", task, key, earlier)  # fmt: skip
        else:
            log.info("eval task %s: generating replies for %s (no earlier task in this "
                     "evaluation generated replies)", task, key)  # fmt: skip
        rows = generate_replies(llm, items, max_new_tokens, repetition_penalty)
        self.put(key, rows, task)
        return [dict(row) for row in rows]


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
