"""Export: every rating as CSV, the Fig. 1 statistics and agreement as JSON, rows for the LLM judge.

Each model run's statistics are logged to that MLflow run (``human/*`` metrics, plus its ratings
and summary as artifacts under ``human_eval/``); items without a run id are counted in the overall
summary only.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from contextlib import closing
from pathlib import Path

from mlflow.tracking import MlflowClient

from imitate import metrics
from imitate.metric_log import log_metrics
from imitate.rate import db
from imitate.rate.stats import agreement, preference

ARTIFACT_DIR = "human_eval"
COLUMNS = (
    "rating_id", "item_id", "model_run_id", "rater", "choice", "teacher_side", "verdict",
    "shown_at", "rated_at", "instruction", "output_model", "output_teacher",
)  # fmt: skip
JUDGE_FIELDS = (
    "item_id",
    "instruction",
    "output_model",
    "output_teacher",
    "model_run_id",
    "rater",
    "verdict",
)
_ROWS = """SELECT v.rating_id, v.item_id, i.model_run_id, ra.name AS rater, v.choice, v.teacher_side,
       v.verdict, v.shown_at, v.rated_at, i.instruction, i.output_model, i.output_teacher
FROM verdicts v JOIN items i ON i.id = v.item_id JOIN raters ra ON ra.id = v.rater_id
ORDER BY v.rating_id"""


def read_ratings(path: str | Path) -> list[dict]:
    """All ratings with their verdict (model / teacher / tie), rater, item and times."""
    with closing(db.connect(path)) as connection:
        return [dict(row) for row in connection.execute(_ROWS)]


def summarise(rows: list[dict]) -> dict:
    """Preference and agreement overall and for each model run."""
    by_run: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["model_run_id"]:
            by_run[row["model_run_id"]].append(row)
    return {
        "overall": _statistics(rows),
        "by_run": {run: _statistics(run_rows) for run, run_rows in sorted(by_run.items())},
        "ratings_without_run_id": sum(1 for row in rows if not row["model_run_id"]),
    }


def run_metrics(statistics: dict) -> dict[str, float]:
    """The ``human/*`` metrics of one summary; agreement only where some item was rated twice."""
    values = {
        metrics.HUMAN_PREFERENCE: statistics["preference"],
        metrics.HUMAN_PREFERENCE_STD: statistics["preference_std"],
        metrics.HUMAN_AT_LEAST_EQUAL: statistics["at_least_equal_share"],
        metrics.HUMAN_AGREEMENT: statistics["agreement"],
        metrics.HUMAN_RATINGS: statistics["ratings"],
    }
    return {name: float(value) for name, value in values.items() if value is not None}


def write_files(out: Path, rows: list[dict], summary: dict) -> dict[str, Path]:
    """ratings.csv, summary.json and judge_pairs.jsonl (the judge-vs-human rows) under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"ratings": out / "ratings.csv", "summary": out / "summary.json"}
    paths["judge_pairs"] = out / "judge_pairs.jsonl"
    paths["ratings"].write_text(ratings_csv(rows), encoding="utf-8")
    paths["summary"].write_text(json.dumps(summary, indent=1), encoding="utf-8")
    with paths["judge_pairs"].open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({key: row[key] for key in JUDGE_FIELDS}) + "\n")
    return paths


def log_to_runs(client: MlflowClient, rows: list[dict], summary: dict) -> list[str]:
    """Log each model run's metrics and artifacts to it; every run is checked before any write."""
    runs = list(summary["by_run"])
    for run_id in runs:
        try:
            client.get_run(run_id)
        except Exception as error:  # MlflowException for an unknown id; the store's own otherwise
            raise LookupError(
                f"model_run_id {run_id!r} (on {summary['by_run'][run_id]['ratings']} ratings) is "
                f"not a run in {client.tracking_uri}: pass the store it came from (--tracking-uri) "
                "or --no-log"
            ) from error
    for run_id in runs:
        log_metrics(client, run_id, run_metrics(summary["by_run"][run_id]))
        run_rows = [row for row in rows if row["model_run_id"] == run_id]
        client.log_text(run_id, ratings_csv(run_rows), f"{ARTIFACT_DIR}/ratings.csv")
        client.log_dict(run_id, summary["by_run"][run_id], f"{ARTIFACT_DIR}/summary.json")
    return runs


def ratings_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def describe(summary: dict) -> str:
    """A few printable lines: preference ± std, the >= share and agreement, overall and per run."""
    lines = []
    for label, stats in [("all ratings", summary["overall"]), *summary["by_run"].items()]:
        if not stats["ratings"]:
            lines.append(f"{label}: no ratings yet")
            continue
        line = (
            f"{label}: {stats['ratings']} ratings, preference {stats['preference']:.3f} "
            f"± {stats['preference_std']:.3f}, imitation >= teacher {stats['at_least_equal_share']:.1%}"
        )
        if stats["agreement"] is not None:
            kappa = stats["fleiss_kappa"]
            line += f", agreement {stats['agreement']:.1%} over {stats['rating_pairs']} pairs"
            line += f" (Fleiss' kappa {kappa:.3f})" if kappa is not None else " (kappa undefined)"
        lines.append(line)
    return "\n".join(lines)


def _statistics(rows: list[dict]) -> dict:
    verdicts = [row["verdict"] for row in rows]
    return preference(verdicts) | agreement((row["item_id"], row["verdict"]) for row in rows)
