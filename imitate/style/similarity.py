"""Table 2: how much a set of outputs looks like the teacher's replies to the same prompts.

Rows: uses a list when the teacher does, writes a summary paragraph when the teacher does (both %
of the prompts where the teacher's reply has one), unigram F1 with the teacher's reply (x100,
mean over prompts), Pearson r of word counts across prompts, and authoritative tone (% of
outputs: by the LLM judge under STYLE_AUTHORITATIVE_JUDGE, by the lexicon under
STYLE_AUTHORITATIVE_LEXICON).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import pearsonr

from imitate import metrics
from imitate.style.detectors import has_list, has_summary_paragraph, unigram_f1, words
from imitate.style.lexicon import tone_counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StylePair:
    """One prompt's output beside the teacher's reply to it."""

    id: str
    prompt: str
    output: str
    reference: str


def style_rows(pairs: Sequence[StylePair]) -> list[dict]:
    """Per-prompt features: the table behind every Table 2 number (logged as an artifact)."""
    rows = []
    for pair in pairs:
        tone = tone_counts(pair.output)
        rows.append(
            {
                "id": pair.id,
                "prompt": pair.prompt,
                "output_has_list": has_list(pair.output),
                "reference_has_list": has_list(pair.reference),
                "output_has_summary": has_summary_paragraph(pair.output),
                "reference_has_summary": has_summary_paragraph(pair.reference),
                "unigram_f1": unigram_f1(pair.output, pair.reference),
                "output_words": len(words(pair.output)),
                "reference_words": len(words(pair.reference)),
                "hedges": tone.hedges,
                "boosters": tone.boosters,
                "lexicon_authoritative": tone.authoritative,
            }
        )
    return rows


def score_style(
    pairs: Sequence[StylePair], judged_authoritative: Sequence | None = None
) -> tuple[list[dict], dict[str, float]]:
    """Table 2 for outputs beside the teacher's replies: the per-prompt rows and the metrics.

    The one scoring function of the style eval task and of ``python -m imitate.judge style``.
    """
    rows = style_rows(pairs)
    if judged_authoritative is not None:
        for row, verdict in zip(rows, judged_authoritative, strict=True):
            row["judge_authoritative"] = verdict
    return rows, style_metrics(rows, judged_authoritative)


def style_metrics(rows: Sequence[dict], judged_authoritative: Sequence | None = None) -> dict:
    """Table 2 metrics from ``style_rows``; a metric with no defined value is left out (and logged).

    ``judged_authoritative``: one True/False/None (unparseable) per row from the LLM judge, or None
    when no judge is configured.
    """
    if not rows:
        raise ValueError(
            "style metrics: no prompts to score (the prompt set is empty after filters)"
        )
    values = {
        metrics.STYLE_LIST: _when_teacher(rows, "list"),
        metrics.STYLE_SUMMARY: _when_teacher(rows, "summary"),
        metrics.STYLE_UNIGRAM_F1: 100 * sum(r["unigram_f1"] for r in rows) / len(rows),
        metrics.STYLE_LENGTH_PEARSON: _length_pearson(rows),
        metrics.STYLE_AUTHORITATIVE_LEXICON: _percent([r["lexicon_authoritative"] for r in rows]),
        metrics.STYLE_EMPTY_REPLY_RATE: sum(r["output_words"] == 0 for r in rows) / len(rows),
    }
    if judged_authoritative is not None:
        judged = [v for v in judged_authoritative if v is not None]
        values[metrics.STYLE_AUTHORITATIVE_JUDGE] = _percent(judged) if judged else None
    kept = {name: value for name, value in values.items() if value is not None}
    for name in sorted(set(values) - set(kept)):
        log.warning("%s: undefined on these %d prompts, not reported", name, len(rows))
    return kept


def _when_teacher(rows: Sequence[dict], feature: str) -> float | None:
    """% of the prompts whose teacher reply has the feature where the output has it too."""
    teacher = [r for r in rows if r[f"reference_has_{feature}"]]
    if not teacher:
        return None
    return 100 * sum(r[f"output_has_{feature}"] for r in teacher) / len(teacher)


def _length_pearson(rows: Sequence[dict]) -> float | None:
    out = [r["output_words"] for r in rows]
    ref = [r["reference_words"] for r in rows]
    if len(rows) < 2 or len(set(out)) < 2 or len(set(ref)) < 2:
        return None  # r is undefined for fewer than two prompts or a constant length
    r = float(pearsonr(out, ref).statistic)
    return None if math.isnan(r) else r


def _percent(flags: Sequence[bool]) -> float:
    return 100 * sum(bool(f) for f in flags) / len(flags)
