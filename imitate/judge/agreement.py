"""Judge-vs-human agreement on the same pairs: Zheng et al. (2023)'s setups S1 and S2.

Rows are ``(item, human verdict, judge verdict)``, one per human rating (an item rated by three
people gives three rows against the same judge verdict), verdicts in the rating app's terms
(``imitate.rate``): ``model`` (the imitation output is better), ``tie`` or ``teacher``.

* S1 (with ties): the share of rows where the two verdicts are equal, ties a third category;
* S2 (without ties): the same over the rows where neither verdict is a tie.

Rows whose judge verdict is unparseable (``error``) are left out and counted. For reference,
Zheng et al. measured GPT-4 vs humans at 66% (S1) / 85% (S2) on MT-Bench, humans with each other
63% / 81%.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from imitate.data.jsonl import read_jsonl
from imitate.judge.outcomes import LOSS, TIE, WIN
from imitate.llm.verdicts import ERROR
from imitate.reply_pair import ReplyPair

MODEL, TEACHER = "model", "teacher"  # imitate.rate's verdicts, with TIE ("tie")
VERDICTS = (MODEL, TIE, TEACHER)
_OF_OUTCOME = {WIN: MODEL, TIE: TIE, LOSS: TEACHER, ERROR: ERROR}
HUMAN_EXPORT_FIELDS = ("item_id", "instruction", "output_model", "output_teacher", "verdict")


def verdict_of_outcome(outcome: str) -> str:
    """A judge outcome (the candidate's win / tie / loss) as a rating-app verdict."""
    return _OF_OUTCOME[outcome]


def human_judge_agreement(rows: Iterable[tuple[str, str, str]]) -> dict[str, float | int | None]:
    """S1 and S2 agreement between human and judge verdicts over (item, human, judge) rows."""
    rows = list(rows)
    for item, human, judge in rows:
        for who, verdict in (("human", human), ("judge", judge)):
            if verdict not in VERDICTS and not (who == "judge" and verdict == ERROR):
                raise ValueError(
                    f"item {item!r}: {who} verdict {verdict!r}; valid: {', '.join(VERDICTS)}"
                )
    decided = [(h, j) for _, h, j in rows if j != ERROR]
    without_ties = [(h, j) for h, j in decided if TIE not in (h, j)]
    return {
        "rows": len(rows),
        "judge_errors": len(rows) - len(decided),
        "items": len({item for item, _, _ in rows}),
        "s1_rows": len(decided),
        "s1_agreement": _share(decided),
        "s2_rows": len(without_ties),
        "s2_agreement": _share(without_ties),
    }


def _share(pairs: list[tuple[str, str]]) -> float | None:
    return sum(h == j for h, j in pairs) / len(pairs) if pairs else None


def read_human_export(path: str | Path) -> list[dict]:
    """The rating app's ``judge_pairs.jsonl`` rows (one per rating), checked for the needed fields."""
    rows = []
    for number, row in read_jsonl(path):
        missing = [k for k in HUMAN_EXPORT_FIELDS if k not in row]
        if missing:
            raise ValueError(
                f"{path}:{number}: missing {missing}; the rating app's export "
                f"(python -m imitate.rate export) writes {', '.join(HUMAN_EXPORT_FIELDS)}"
            )
        rows.append(row)
    return rows


def pairs_of_export(rows: list[dict]) -> list[ReplyPair]:
    """One judge pair per rated item (the model's output as candidate, the teacher's as reference)."""
    pairs: dict[str, ReplyPair] = {}
    for row in rows:
        pair = ReplyPair(
            str(row["item_id"]), row["instruction"], row["output_model"], row["output_teacher"]
        )
        if pairs.setdefault(pair.id, pair) != pair:
            raise ValueError(f"item {pair.id!r} appears with two different texts in the export")
    return list(pairs.values())


def agreement_rows(export: list[dict], judged: list[dict]) -> list[tuple[str, str, str]]:
    """(item, human verdict, judge verdict) for every rating, from the judge's table of the items."""
    by_item = {row["id"]: verdict_of_outcome(row["outcome"]) for row in judged}
    return [(str(r["item_id"]), r["verdict"], by_item[str(r["item_id"])]) for r in export]
