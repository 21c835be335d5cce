"""The preprocessing pipeline behind the datamodule, from source files to packed blocks.

load every source -> normalise roles -> clean -> leakage filter -> cap -> seeded mixture ->
held-out split -> encode with role markers -> token budget -> pack -> data card.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np

from imitate.data.card import build_data_card
from imitate.data.clean import clean
from imitate.data.conversations import ASSISTANT, USER, normalise_all
from imitate.data.format import IGNORE_INDEX, ConversationEncoder
from imitate.data.leakage import LeakageConfig, apply_leakage_config
from imitate.data.mix import cap, seeded_mixture
from imitate.data.overlap import DiversityConfig, diversity_for_card
from imitate.data.pack import TokenStream, pack_blocks
from imitate.data.report import DataReport
from imitate.data.source_formats import SourceConfig, read_source

log = logging.getLogger(__name__)

_ENCODE_CHUNK = 256  # conversations per tokenizer call


@dataclass
class Settings:
    block_size: int
    max_tokens: int | None
    val_conversations: int
    heldout_prompts: int
    seed: int
    clean: dict | None
    leakage: LeakageConfig
    diversity: DiversityConfig
    allow_smaller: bool = False  # a budget above what the sources hold: warn and use them all


def build(
    sources: dict[str, SourceConfig], settings: Settings, encoder: ConversationEncoder, pad_id: int
) -> dict:
    """Everything the datamodule caches: train/val blocks, held-out prompts, counts and the data card."""
    report = DataReport()
    conversations = _load_all(sources, report)
    if settings.clean is not None:
        conversations = clean(conversations, settings.clean, report)
    leakage = _filter_leakage(conversations, settings.leakage, report)
    if leakage is not None:
        conversations = leakage.train
    mixed = _mix(conversations, sources, settings.seed, report)
    if len(mixed) <= settings.val_conversations:
        raise ValueError(
            f"data sources hold {len(mixed)} usable conversations; need more than "
            f"data.val_conversations={settings.val_conversations}"
        )
    # Held-out conversations come first in the seeded order, so every budget shares the same
    # validation set and the training subsets of a budget ladder are prefixes of each other.
    val, train = mixed[: settings.val_conversations], mixed[settings.val_conversations :]
    train_stream, per_source = _encode(encoder, train, settings.max_tokens)
    _check_budget(train_stream, settings, sources, report)
    used = train[: len(train_stream.pieces)]
    report.count("train_conversations_used", len(used))
    report.count("train_conversations_unused", len(train) - len(used))
    val_stream, _ = _encode(encoder, val, None)
    diversity = (
        diversity_for_card(used, settings.diversity, settings.seed) if len(used) > 1 else None
    )
    card = build_data_card(
        used,
        report,
        per_source,
        diversity,
        leakage,
        settings.leakage.direction if leakage else None,
    )
    return {
        "train": pack_blocks(*train_stream.arrays(), settings.block_size, pad_id),
        "val": pack_blocks(*val_stream.arrays(), settings.block_size, pad_id),
        "heldout": _heldout_prompts(val, settings.heldout_prompts),
        "report": dict(report.counts),
        "card": card,
    }


def _load_all(sources: dict[str, SourceConfig], report: DataReport) -> list[dict]:
    conversations = []
    for name, source in sources.items():
        loaded = list(normalise_all(read_source(source, report), name, report))
        report.count(f"source_{name}_conversations", len(loaded))
        conversations += loaded
    return conversations


def _filter_leakage(conversations: list[dict], config: LeakageConfig, report: DataReport):
    return apply_leakage_config(conversations, config, report) if config.eval_prompt_files else None


def _mix(
    conversations: list[dict], sources: dict[str, SourceConfig], seed: int, report: DataReport
) -> list[dict]:
    per_source: dict[str, list[dict]] = {name: [] for name in sources}
    for conversation in conversations:
        per_source[conversation["source"]].append(conversation)
    for name, source in sources.items():
        capped = cap(per_source[name], source.max_conversations, seed, name)
        report.drop(f"over_cap_{name}", len(per_source[name]) - len(capped))
        per_source[name] = capped
    weights = {
        n: float(len(per_source[n]) if s.weight is None else s.weight) for n, s in sources.items()
    }
    return seeded_mixture(per_source, weights, seed)


def _encode(
    encoder: ConversationEncoder, conversations: list[dict], max_tokens: int | None
) -> tuple[TokenStream, dict[str, dict[str, int]]]:
    """Encode in chunks until the budget is full; per-source token counts of what was used."""
    stream = TokenStream(max_tokens)
    for start in range(0, len(conversations), _ENCODE_CHUNK):
        if stream.full:
            break
        stream.extend(encoder.encode_batch(conversations[start : start + _ENCODE_CHUNK]))
    per_source: dict[str, Counter] = {}
    for conversation, (ids, labels) in zip(conversations, stream.pieces, strict=False):
        counts = per_source.setdefault(conversation["source"], Counter())
        counts["tokens"] += len(ids)
        counts["supervised_tokens"] += int((labels != IGNORE_INDEX).sum())
    return stream, {name: dict(counts) for name, counts in per_source.items()}


def _check_budget(
    stream: TokenStream, settings: Settings, sources: dict[str, SourceConfig], report: DataReport
) -> None:
    if settings.max_tokens is None or stream.num_tokens >= settings.max_tokens:
        return
    names = ", ".join(f"{n} ({s.path})" for n, s in sources.items())
    message = (
        f"data.max_tokens={settings.max_tokens:,} but the sources {names} hold only "
        f"{stream.num_tokens:,} training tokens after filtering"
    )
    if not settings.allow_smaller:
        raise ValueError(
            f"{message}; lower data.max_tokens, or set data.allow_smaller=true to train on all of them"
        )
    log.warning("%s; data.allow_smaller=true: training on all of them", message)
    report.count("budget_shortfall_tokens", settings.max_tokens - stream.num_tokens)


def _heldout_prompts(conversations: list[dict], count: int) -> list[dict]:
    """Dialogues up to the first teacher reply that answers a user turn, with that reply."""
    prompts: list[dict] = []
    for conversation in conversations:
        turns = conversation["turns"]
        replies = [
            i
            for i, t in enumerate(turns)
            if t["role"] == ASSISTANT and any(u["role"] == USER for u in turns[:i])
        ]
        if replies and len(prompts) < count:
            prompts.append(
                {
                    "id": conversation["id"],
                    "prompt_turns": turns[: replies[0]],
                    "reference": turns[replies[0]]["content"],
                }
            )
    return prompts


def stream_stats(blocks: tuple[np.ndarray, np.ndarray, np.ndarray], split: str) -> dict[str, float]:
    _, labels, lengths = blocks
    return {
        f"data/{split}_tokens": float(lengths.sum()),
        f"data/{split}_supervised_tokens": float((labels != IGNORE_INDEX).sum()),
        f"data/{split}_blocks": float(len(lengths)),
    }
