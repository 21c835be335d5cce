"""Calibrate the judge on pairs with known labels (AlpacaEval's GPT-4 annotations, or your own).

Labels follow AlpacaEval: 1 = output_1 preferred, 2 = output_2 preferred, 1.5 = tie. Agreement is
over the **decisive** labelled pairs (label 1 or 2; a predicted tie is a disagreement), beside
Cohen's kappa on the same pairs and the trivial predictors, because on a lopsided set a constant
guess already agrees most of the time: on AlpacaEval's davinci-003 vs ChatGPT-0301 pairs GPT-4
prefers ChatGPT on 89.6% of the decisive pairs and "the longer output wins" agrees 88.7%.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.metrics import cohen_kappa_score

from imitate.data.jsonl import read_jsonl
from imitate.data.report import DataReport
from imitate.judge.outcomes import LOSS, TIE, WIN
from imitate.llm.verdicts import ERROR
from imitate.reply_pair import ReplyPair

FIRST_BETTER, SECOND_BETTER, TIED = "1", "2", "1.5"
_LABELS = {1.0: FIRST_BETTER, 2.0: SECOND_BETTER, 1.5: TIED}


@dataclass(frozen=True)
class LabelledPair:
    id: str
    instruction: str
    output_1: str
    output_2: str
    label: str  # FIRST_BETTER | SECOND_BETTER | TIED


def read_labelled_pairs(path: str | Path, report: DataReport) -> list[LabelledPair]:
    """AlpacaEval annotations (JSON array, ``preference``) or JSONL with ``label``; unlabelled counted."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    rows = json.loads(text) if text.lstrip().startswith("[") else [v for _, v in read_jsonl(path)]
    pairs = []
    for index, row in enumerate(rows):
        raw = row.get("label", row.get("preference"))
        if raw is None:
            report.skip("unlabelled_pair", f"{path} record {index}")
            continue
        label = _label(raw, f"{path} record {index}")
        missing = [
            k for k in ("instruction", "output_1", "output_2") if not isinstance(row.get(k), str)
        ]
        if missing:
            raise ValueError(f"{path} record {index}: missing string field(s) {missing}")
        pairs.append(LabelledPair(str(row.get("id", index)), row["instruction"], row["output_1"], row["output_2"], label))  # fmt: skip
    return pairs


def _label(raw: Any, where: str) -> str:
    if raw == "tie":
        return TIED
    try:
        return _LABELS[float(raw)]
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"{where}: label {raw!r}; valid: 1, 2, 1.5 or 'tie'") from None


def as_judge_pairs(pairs: Sequence[LabelledPair]) -> list[ReplyPair]:
    """output_2 as the candidate, output_1 as the reference: a judge win means label 2."""
    return [ReplyPair(p.id, p.instruction, p.output_2, p.output_1) for p in pairs]


def label_of_outcome(outcome: str) -> str | None:
    """The AlpacaEval label our judge's outcome stands for (None for an unparseable pair)."""
    return {WIN: SECOND_BETTER, LOSS: FIRST_BETTER, TIE: TIED, ERROR: None}[outcome]


def baselines(pairs: Sequence[LabelledPair], seed: int = 0) -> dict[str, list[str]]:
    """The trivial predictors' labels: always output_2, the longer output (characters), random."""
    rng = random.Random(seed)

    def longer(p: LabelledPair) -> str:
        # Equal lengths (3 of AlpacaEval's 799 decisive pairs) go to output_1: the rule is
        # "output_2 wins when it is longer", which gives the 88.7% on AlpacaEval.
        return SECOND_BETTER if len(p.output_2) > len(p.output_1) else FIRST_BETTER

    return {
        "always output_2": [SECOND_BETTER] * len(pairs),
        "longer output wins": [longer(p) for p in pairs],
        f"random (seed {seed})": [rng.choice((FIRST_BETTER, SECOND_BETTER)) for _ in pairs],
    }


def agreement_row(name: str, gold: Sequence[str], predicted: Sequence[str | None]) -> dict:
    """Raw agreement and Cohen's kappa on the decisive gold pairs the predictor answered."""
    kept = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != TIED and p is not None]
    if not kept:
        return {"predictor": name, "pairs": 0, "agreement": None, "kappa": None}
    g, p = zip(*kept, strict=True)
    agreement = sum(a == b for a, b in kept) / len(kept)
    # kappa is undefined (nan) when both sides are constant; sklearn then warns and returns nan.
    kappa = float(cohen_kappa_score(g, p, labels=[FIRST_BETTER, SECOND_BETTER, TIED]))
    return {"predictor": name, "pairs": len(kept), "agreement": agreement, "kappa": kappa}


def calibration_table(
    pairs: Sequence[LabelledPair], judged: Mapping[str, Sequence[str | None]], seed: int = 0
) -> list[dict]:
    """One row per predictor (the judge's rules first, then the baselines) on the same pairs."""
    gold = [p.label for p in pairs]
    rows = [agreement_row(name, gold, labels) for name, labels in judged.items()]
    rows += [agreement_row(name, gold, labels) for name, labels in baselines(pairs, seed).items()]
    return rows


def label_balance(pairs: Sequence[LabelledPair]) -> dict[str, float]:
    """How lopsided the gold labels are: decisive pairs and the share preferring output_2."""
    decisive = [p for p in pairs if p.label != TIED]
    share = (
        sum(p.label == SECOND_BETTER for p in decisive) / len(decisive)
        if decisive
        else float("nan")
    )
    return {"pairs": len(pairs), "decisive": len(decisive), "output_2_share": share}


def format_table(rows: Sequence[dict], balance: dict[str, float]) -> str:
    """The printed calibration report: label balance first, then agreement and kappa per predictor."""
    lines = [
        f"gold labels: {balance['decisive']} decisive of {balance['pairs']} pairs; "
        f"output_2 preferred on {100 * balance['output_2_share']:.1f}% of the decisive ones "
        "(a constant guess agrees that often: read agreement beside kappa)",
        f"{'predictor':<30} {'pairs':>6} {'agreement':>10} {'kappa':>7}",
    ]
    for row in rows:
        agreement = "-" if row["agreement"] is None else f"{100 * row['agreement']:.1f}%"
        kappa = "-" if row["kappa"] is None else f"{row['kappa']:.3f}"
        lines.append(f"{row['predictor']:<30} {row['pairs']:>6} {agreement:>10} {kappa:>7}")
    return "\n".join(lines)
