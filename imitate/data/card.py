"""The data card: what went into a training mix and what was taken out, as one dict.

Logged to MLflow as flat metrics (``data/...``) plus ``data_card.json`` / ``data_card.md``
artifacts, and printed as a small table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from imitate.data.conversations import ASSISTANT, USER
from imitate.data.leakage import LeakageResult
from imitate.data.overlap import Diversity
from imitate.data.report import DataReport
from imitate.metric_log import log_metrics
from imitate.metrics import DATA_PREFIX

CARD_JSON = "data_card.json"
CARD_MARKDOWN = "data_card.md"
_METRIC_UNSAFE = re.compile(r"[^\w\-./ ]")  # MLflow accepts letters, digits, _ - . / and space


def build_data_card(
    conversations: list[dict],
    report: DataReport,
    token_stats: Mapping[str, Mapping[str, int]] | None = None,
    diversity: Diversity | None = None,
    leakage: LeakageResult | None = None,
    leakage_direction: str | None = None,
) -> dict[str, Any]:
    """Card for the final training conversations.

    ``token_stats`` is per source ``{"tokens": n, "supervised_tokens": n}`` from tokenisation
    (supervised = tokens with loss, i.e. model outputs).
    """
    token_stats = token_stats or {}
    sources = _per_source_counts(conversations)
    for source, stats in token_stats.items():
        sources.setdefault(source, _empty_source_counts()).update(_token_fields(stats, source))
    total = _empty_source_counts()
    for counts in sources.values():
        for key in (
            "conversations",
            "user_turns",
            "assistant_turns",
            "tokens",
            "supervised_tokens",
        ):
            total[key] += counts.get(key, 0)
    if token_stats:
        total.update(_token_fields(total, "total"))
    return {
        "sources": dict(sorted(sources.items())),
        "total": total,
        "filters": dict(sorted(report.counts.items())),
        "diversity": _diversity_fields(diversity),
        "leakage": _leakage_fields(leakage, leakage_direction),
    }


def _empty_source_counts() -> dict[str, Any]:
    return {
        "conversations": 0,
        "user_turns": 0,
        "assistant_turns": 0,
        "tokens": 0,
        "supervised_tokens": 0,
    }


def _per_source_counts(conversations: list[dict]) -> dict[str, dict[str, Any]]:
    sources: dict[str, dict[str, Any]] = {}
    for conversation in conversations:
        counts = sources.setdefault(conversation["source"], _empty_source_counts())
        counts["conversations"] += 1
        counts["user_turns"] += sum(t["role"] == USER for t in conversation["turns"])
        counts["assistant_turns"] += sum(t["role"] == ASSISTANT for t in conversation["turns"])
    return sources


def _token_fields(stats: Mapping[str, int], source: str) -> dict[str, Any]:
    missing = {"tokens", "supervised_tokens"} - set(stats)
    if missing:
        raise ValueError(
            f"token_stats[{source!r}] lacks {sorted(missing)}; expected tokens and supervised_tokens"
        )
    tokens, supervised = int(stats["tokens"]), int(stats["supervised_tokens"])
    fraction = supervised / tokens if tokens else 0.0
    return {"tokens": tokens, "supervised_tokens": supervised, "supervised_fraction": fraction}


def _diversity_fields(diversity: Diversity | None) -> dict[str, Any] | None:
    if diversity is None:
        return None
    return {
        "mean_bleu": diversity.mean_bleu,
        "queries": diversity.n_queries,
        "seconds": diversity.seconds,
    }


def _leakage_fields(leakage: LeakageResult | None, direction: str | None) -> dict[str, Any] | None:
    if leakage is None:
        return None
    return {
        "direction": direction,
        "pairs": len(leakage.leaks),
        "eval_prompts_kept": len(leakage.eval_prompts),
        "removals": leakage.removal_records(),
    }


def card_metrics(card: Mapping[str, Any]) -> dict[str, float]:
    """Flat numeric metrics: ``data/<source>/tokens``, ``data/dropped_exact_duplicate``, ..."""
    metrics = {}
    for source, counts in {**card["sources"], "total": card["total"]}.items():
        for key, value in counts.items():
            metrics[f"{DATA_PREFIX}{_metric_safe(source)}/{key}"] = float(value)
    for key, value in card["filters"].items():
        metrics[f"{DATA_PREFIX}{_metric_safe(key)}"] = float(value)
    if card["diversity"]:
        metrics[f"{DATA_PREFIX}diversity/mean_bleu"] = float(card["diversity"]["mean_bleu"])
        metrics[f"{DATA_PREFIX}diversity/queries"] = float(card["diversity"]["queries"])
    if card["leakage"]:
        metrics[f"{DATA_PREFIX}leakage/pairs"] = float(card["leakage"]["pairs"])
        metrics[f"{DATA_PREFIX}leakage/eval_prompts_kept"] = float(
            card["leakage"]["eval_prompts_kept"]
        )
    return metrics


def _metric_safe(name: str) -> str:
    return _METRIC_UNSAFE.sub("_", name)


def render_markdown(card: Mapping[str, Any]) -> str:
    """A small markdown report: per-source table, filter counts, diversity and leakage."""
    lines = [
        "## Data card",
        "",
        "| source | conversations | tokens | supervised |",
        "| --- | ---: | ---: | ---: |",
    ]
    for source, counts in {**card["sources"], "**total**": card["total"]}.items():
        fraction = counts.get("supervised_fraction")
        supervised = f"{fraction:.1%}" if fraction is not None else "-"
        tokens = f"{counts['tokens']:,}" if "supervised_fraction" in counts else "-"
        lines.append(f"| {source} | {counts['conversations']:,} | {tokens} | {supervised} |")
    lines += ["", "| filter / count | n |", "| --- | ---: |"]
    lines += [f"| {key} | {value:,} |" for key, value in card["filters"].items()]
    if card["diversity"]:
        d = card["diversity"]
        lines += [
            "",
            f"Diversity: mean BLEU to the most similar other query {d['mean_bleu']:.2f} over {d['queries']:,} queries.",
        ]
    if card["leakage"]:
        leak = card["leakage"]
        lines += ["", f"Leakage ({leak['direction']}): {leak['pairs']} pairs over the threshold."]
        lines += [
            f"- {r['eval_file']} {r['eval_id']} <-> train {r['train_id']} (BLEU {r['bleu']:.1f})"
            for r in leak["removals"]
        ]
    return "\n".join(lines) + "\n"


def log_data_card(client: Any, run_id: str, card: Mapping[str, Any]) -> None:
    """Log the card's metrics and its JSON and markdown artifacts to an MLflow run."""
    log_metrics(client, run_id, card_metrics(card))
    client.log_text(run_id, json.dumps(card, indent=2, default=str), CARD_JSON)
    client.log_text(run_id, render_markdown(card), CARD_MARKDOWN)
