"""Export: Fig. 1 statistics and agreement logged to the model's MLflow run, files for the judge."""

from __future__ import annotations

import csv
import json
import math

import pytest

from imitate import metrics
from imitate.rate import db
from imitate.rate.__main__ import main
from imitate.rate.pairs import pairs_from_run
from imitate.rate.store import RatingStore
from tests.rate.conftest import GENERATIONS, make_pairs, rows


def rate_as(store: RatingStore, rater: str, verdict: str) -> None:
    """Rate the rater's next item so that the verdict comes out as asked."""
    token = store.screen(rater).token
    [(side,)] = rows(store.path, "SELECT teacher_side FROM presentations WHERE token = ?", (token,))
    choice = {"tie": "equal", "teacher": side, "model": "B" if side == "A" else "A"}[verdict]
    store.save(rater, token, choice)


@pytest.fixture
def rated(tracking, new_run, tmp_path):
    """Two items from a run's generations table and one without a run, rated by ann and bob."""
    client, uri = tracking
    run_id = new_run(GENERATIONS)
    store = RatingStore(tmp_path / "ratings.db")
    db.add_items(store.path, pairs_from_run(client, run_id) + make_pairs(1, run_id=None))
    for rater, verdicts in {
        "ann": ("model", "tie", "teacher"),
        "bob": ("model", "teacher", "teacher"),
    }.items():
        for verdict in verdicts:
            rate_as(store, rater, verdict)
    return client, uri, run_id, store


def test_export_logs_run_metrics_and_writes_files(rated, tmp_path) -> None:
    client, uri, run_id, store = rated
    out = tmp_path / "export"
    summary = main(["export", "--db", str(store.path), "--tracking-uri", uri, "--out", str(out)])
    # The run's 4 ratings: model, model (item 0), tie, teacher (item 1) -> 1, 1, .5, 0.
    logged = client.get_run(run_id).data.metrics
    assert logged[metrics.HUMAN_PREFERENCE] == pytest.approx(0.625)
    assert logged[metrics.HUMAN_PREFERENCE_STD] == pytest.approx(math.sqrt(0.6875 / 4))
    assert logged[metrics.HUMAN_AGREEMENT] == pytest.approx(0.5)  # item 0 agrees, item 1 not
    assert logged[metrics.HUMAN_RATINGS] == 4
    assert summary["by_run"][run_id]["at_least_equal_share"] == pytest.approx(0.75)
    assert summary["overall"]["ratings"] == 6 and summary["ratings_without_run_id"] == 2
    artifacts = {a.path for a in client.list_artifacts(run_id, "human_eval")}
    assert artifacts == {"human_eval/ratings.csv", "human_eval/summary.json"}
    with (out / "ratings.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["rater"], r["verdict"]) for r in table] == [
        ("ann", "model"), ("ann", "tie"), ("ann", "teacher"),
        ("bob", "model"), ("bob", "teacher"), ("bob", "teacher"),
    ]  # fmt: skip
    judge_rows = [json.loads(line) for line in (out / "judge_pairs.jsonl").read_text().splitlines()]
    assert judge_rows[0] == {
        "item_id": f"{run_id}:0", "instruction": "p0", "output_model": "m0",
        "output_teacher": "t0", "model_run_id": run_id, "rater": "ann", "verdict": "model",
    }  # fmt: skip
    assert json.loads((out / "summary.json").read_text()) == summary


def test_unknown_run_is_an_error_before_any_write(rated, tmp_path) -> None:
    client, uri, run_id, store = rated
    rows(store.path, "UPDATE items SET model_run_id = 'no-such-run' WHERE id = 'item-0'")
    with pytest.raises(LookupError, match="'no-such-run' \\(on 2 ratings\\) is not a run"):
        main(
            ["export", "--db", str(store.path), "--tracking-uri", uri, "--out", str(tmp_path / "x")]
        )
    assert metrics.HUMAN_PREFERENCE not in client.get_run(run_id).data.metrics


def test_no_log_leaves_the_run_alone(rated, tmp_path) -> None:
    client, uri, run_id, store = rated
    main(
        [
            "export",
            "--db",
            str(store.path),
            "--tracking-uri",
            uri,
            "--out",
            str(tmp_path / "x"),
            "--no-log",
        ]
    )
    assert client.get_run(run_id).data.metrics == {}


def test_export_of_an_empty_database(tmp_path, capsys) -> None:
    store = RatingStore(tmp_path / "ratings.db")
    summary = main(["export", "--db", str(store.path), "--out", str(tmp_path / "x")])
    assert summary["overall"]["ratings"] == 0 and "no ratings yet" in capsys.readouterr().out
