"""Cleaning steps over canonical conversations; every removal is counted in the DataReport.

Run on conversations (before tokenisation). No step shortens a long conversation: one longer
than a training block is kept whole and chunked at packing time, as the paper did.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from imitate.data.conversations import ASSISTANT, ROLES, USER
from imitate.data.html_markdown import html_to_markdown, looks_rendered
from imitate.data.overlap import near_duplicates
from imitate.data.report import DataReport

log = logging.getLogger(__name__)

_LANGUAGE_SAMPLE_CHARS = 2000  # langdetect is slow on long pastes and decides early anyway


@dataclass(frozen=True)
class NearDuplicateConfig:
    enabled: bool = True
    bleu_threshold: float = 80.0
    min_query_tokens: int = 8


@dataclass(frozen=True)
class CleanConfig:
    """``data.clean``: which steps run. Each is counted in the report under its own key."""

    html_to_markdown: bool = True
    drop_empty_turns: bool = True
    trim_to_last_assistant: bool = True
    dedupe_exact: bool = True
    language: str | None = None
    dedupe_near_queries: NearDuplicateConfig = field(default_factory=NearDuplicateConfig)

    @classmethod
    def from_mapping(cls, cfg: Mapping | CleanConfig, key: str = "data.clean") -> CleanConfig:
        """Build from a dict or DictConfig, naming any unknown key and the valid ones."""
        if isinstance(cfg, CleanConfig):
            return cfg
        values = dict(cfg)
        _reject_unknown(values, cls, key)
        near = values.pop("dedupe_near_queries", {}) or {}
        _reject_unknown(dict(near), NearDuplicateConfig, f"{key}.dedupe_near_queries")
        return cls(**values, dedupe_near_queries=NearDuplicateConfig(**dict(near)))


def _reject_unknown(values: dict, schema: type, key: str) -> None:
    valid = {f.name for f in fields(schema)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ValueError(f"{key}: unknown key(s) {unknown}; valid keys: {sorted(valid)}")


def clean(conversations: list[dict], cfg: Mapping | CleanConfig, report: DataReport) -> list[dict]:
    """Run the enabled steps in a fixed order: cheap, per-conversation steps first."""
    cfg = CleanConfig.from_mapping(cfg)
    check_shape(conversations)
    report.count("clean_input_conversations", len(conversations))
    steps: list[tuple[bool, Callable[..., list[dict]], dict[str, Any]]] = [
        (cfg.html_to_markdown, convert_rendered_html, {}),
        (cfg.drop_empty_turns, drop_empty_turns, {}),
        (cfg.trim_to_last_assistant, trim_to_last_assistant, {}),
        (cfg.dedupe_exact, dedupe_exact, {}),
        (cfg.language is not None, filter_language, {"language": cfg.language}),
        (
            cfg.dedupe_near_queries.enabled,
            dedupe_near_queries,
            {
                "bleu_threshold": cfg.dedupe_near_queries.bleu_threshold,
                "min_query_tokens": cfg.dedupe_near_queries.min_query_tokens,
            },
        ),
    ]
    for enabled, step, options in steps:
        if enabled:
            conversations = step(conversations, report, **options)
    report.count("clean_output_conversations", len(conversations))
    return conversations


def check_shape(conversations: list[dict]) -> None:
    """Fail on anything that is not the canonical shape: cleaning never guesses."""
    for position, conversation in enumerate(conversations):
        where = (
            f"conversation {position} (id {conversation.get('id')!r})"
            if isinstance(conversation, dict)
            else f"conversation {position}"
        )
        if not isinstance(conversation, dict) or not isinstance(conversation.get("turns"), list):
            raise ValueError(f"{where}: expected {{'id', 'source', 'turns': [...]}}")
        for index, turn in enumerate(conversation["turns"]):
            if (
                not isinstance(turn, dict)
                or turn.get("role") not in ROLES
                or not isinstance(turn.get("content"), str)
            ):
                raise ValueError(
                    f"{where} turn {index}: expected {{'role': one of {ROLES}, 'content': str}}, got {turn!r:.200}"
                )


def _with_turns(conversation: dict, turns: list[dict]) -> dict:
    return {**conversation, "turns": turns}


def convert_rendered_html(conversations: list[dict], report: DataReport) -> list[dict]:
    """Turns that are the web UI's HTML rendering become the markdown ChatGPT wrote."""
    converted = 0
    out = []
    for conversation in conversations:
        turns = []
        for turn in conversation["turns"]:
            if looks_rendered(turn["content"]):
                turn = {**turn, "content": html_to_markdown(turn["content"])}
                converted += 1
            turns.append(turn)
        out.append(_with_turns(conversation, turns))
    report.count("html_turns_converted", converted)
    return out


def drop_empty_turns(conversations: list[dict], report: DataReport) -> list[dict]:
    """Remove empty or whitespace-only turns; drop conversations left without a user/assistant pair."""
    out = []
    for conversation in conversations:
        turns = [t for t in conversation["turns"] if t["content"].strip()]
        report.drop("empty_turns", len(conversation["turns"]) - len(turns))
        roles = {t["role"] for t in turns}
        if USER in roles and ASSISTANT in roles:
            out.append(_with_turns(conversation, turns))
        else:
            report.drop("no_exchange_left", 1)
    return out


def trim_to_last_assistant(conversations: list[dict], report: DataReport) -> list[dict]:
    """Cut turns after the last assistant turn (nothing to learn from an unanswered query)."""
    out = []
    for conversation in conversations:
        turns = conversation["turns"]
        last = max((i for i, t in enumerate(turns) if t["role"] == ASSISTANT), default=-1)
        if last < 0:
            report.drop("no_assistant_turn", 1)
            continue
        report.drop("trailing_turns", len(turns) - last - 1)
        out.append(_with_turns(conversation, turns[: last + 1]))
    return out


def _normalised_hash(conversation: dict) -> str:
    digest = hashlib.sha1()
    for turn in conversation["turns"]:
        text = " ".join(unicodedata.normalize("NFKC", turn["content"]).casefold().split())
        digest.update(f"{turn['role']}\x00{text}\x01".encode())
    return digest.hexdigest()


def dedupe_exact(conversations: list[dict], report: DataReport) -> list[dict]:
    """Keep the first of conversations equal after NFKC, case folding and whitespace collapsing."""
    seen: set[str] = set()
    out = []
    for conversation in conversations:
        key = _normalised_hash(conversation)
        if key not in seen:
            seen.add(key)
            out.append(conversation)
    report.drop("exact_duplicate", len(conversations) - len(out))
    return out


def user_side(conversation: dict) -> str:
    """All user turns of a conversation, one per line: what near-duplicate detection compares."""
    return "\n".join(t["content"] for t in conversation["turns"] if t["role"] == USER)


def dedupe_near_queries(
    conversations: list[dict], report: DataReport, bleu_threshold: float, min_query_tokens: int
) -> list[dict]:
    """Drop a conversation whose user side has BLEU >= threshold to an earlier kept one's."""
    duplicates = near_duplicates(
        [user_side(c) for c in conversations], bleu_threshold, min_query_tokens
    )
    for duplicate in duplicates[:3]:
        log.info(
            "near duplicate (BLEU %.1f): %s copies %s",
            duplicate.bleu,
            conversations[duplicate.duplicate]["id"],
            conversations[duplicate.original]["id"],
        )
    dropped = {d.duplicate for d in duplicates}
    report.drop("near_duplicate_query", len(dropped))
    return [c for position, c in enumerate(conversations) if position not in dropped]


def filter_language(conversations: list[dict], report: DataReport, language: str) -> list[dict]:
    """Keep conversations that ``langdetect`` reads as ``language`` (e.g. ``en``), code blocks aside."""
    try:
        from langdetect import DetectorFactory, LangDetectException, detect
    except ImportError as error:
        raise ImportError(
            "data.clean.language needs the 'langdetect' package: pip install langdetect"
        ) from error
    DetectorFactory.seed = 0  # langdetect is random unless seeded
    out = []
    for conversation in conversations:
        # Both sides: a bare "continue" is too short to identify, the answer to it is not.
        text = "\n".join(t["content"] for t in conversation["turns"])
        sample = re.sub(r"```.*?```", " ", text, flags=re.S)[:_LANGUAGE_SAMPLE_CHARS]
        try:
            detected = detect(sample)
        except LangDetectException:  # no letters at all: code, numbers, emoji
            report.count("language_undetected_kept")
            detected = language
        if detected == language:
            out.append(conversation)
    report.drop(f"language_not_{language}", len(conversations) - len(out))
    return out
