"""The one in-memory conversation shape and role normalisation.

A conversation is a plain dict (so HF ``datasets`` can store it)::

    {"id": str, "source": str, "turns": [{"role": "system"|"user"|"assistant", "content": str}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from imitate.data.report import DataReport

SYSTEM, USER, ASSISTANT = "system", "user", "assistant"
ROLES = (SYSTEM, USER, ASSISTANT)

# ShareGPT/FastChat spellings -> canonical roles. Only ChatGPT replies count as teacher output.
ROLE_ALIASES = {
    "human": USER,
    "user": USER,
    "gpt": ASSISTANT,
    "chatgpt": ASSISTANT,
    "assistant": ASSISTANT,
    "system": SYSTEM,
}
# Turns from other models are not the teacher's outputs: the whole conversation is dropped.
OTHER_MODEL_ROLES = frozenset({"bing", "bard", "claude", "gpt4", "gpt-4", "llama", "vicuna"})


def normalise_conversation(
    raw: dict[str, Any], source: str, where: str, report: DataReport
) -> dict | None:
    """Map one ShareGPT-style record to the canonical shape, or count why it was skipped."""
    turns_raw = raw.get("conversations", raw.get("turns", raw.get("messages")))
    if not isinstance(turns_raw, list):
        report.skip(
            "no_turns", where, "expected a list under 'conversations', 'turns' or 'messages'"
        )
        return None
    turns = []
    for index, turn in enumerate(turns_raw):
        if not isinstance(turn, dict):
            report.skip(
                "malformed_turn",
                f"{where} turn {index}",
                f"expected an object, got {type(turn).__name__}",
            )
            return None
        role_raw = str(turn.get("from", turn.get("role", ""))).strip().lower()
        content = turn.get("value", turn.get("content"))
        if role_raw in OTHER_MODEL_ROLES:
            report.skip("other_model", where, f"turn {index} is from {role_raw!r}, not the teacher")
            return None
        role = ROLE_ALIASES.get(role_raw)
        if role is None:
            valid = ", ".join(sorted(ROLE_ALIASES))
            report.skip(
                "unknown_role", f"{where} turn {index}", f"role {role_raw!r}; valid: {valid}"
            )
            return None
        if not isinstance(content, str) or not content.strip():
            report.count("dropped_empty_turns")
            continue
        turns.append({"role": role, "content": content})
    if not any(t["role"] == ASSISTANT for t in turns):
        report.skip("no_assistant_turn", where)
        return None
    if not any(t["role"] == USER for t in turns):
        report.skip("no_user_turn", where)
        return None
    return {"id": str(raw.get("id", where)), "source": source, "turns": turns}


def normalise_all(
    records: Iterable[tuple[str, dict[str, Any]]], source: str, report: DataReport
) -> Iterator[dict]:
    """Normalise ``(where, record)`` pairs, yielding the kept conversations."""
    for where, raw in records:
        if not isinstance(raw, dict):
            report.skip("malformed_record", where, f"expected an object, got {type(raw).__name__}")
            continue
        conversation = normalise_conversation(raw, source, where, report)
        if conversation is not None:
            report.count("conversations_kept")
            yield conversation
