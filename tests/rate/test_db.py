"""The ratings database: schema, pragmas, constraints, item loading, concurrent saves."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from imitate.rate import db
from imitate.rate.store import AlreadyRated, RatingStore
from imitate.reply_pair import ReplyPair
from tests.rate.conftest import make_pairs, rows


def test_schema_wal_foreign_keys_and_version(db_path) -> None:
    db.create(db_path)
    tables = {
        name for (name,) in rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert {"items", "raters", "presentations", "ratings"} <= tables
    assert rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(db_path, "PRAGMA user_version") == [(db.SCHEMA_VERSION,)]
    with db.connect(db_path) as connection:
        assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db.create(db_path)  # idempotent on an existing database


def test_newer_schema_is_refused(db_path) -> None:
    db.create(db_path)
    rows(db_path, "PRAGMA user_version = 99")
    with pytest.raises(db.DatabaseError, match="schema version 99"):
        db.create(db_path)


def _seed(db_path) -> sqlite3.Connection:
    db.create(db_path)
    db.add_items(db_path, make_pairs(2))
    connection = db.connect(db_path)
    connection.execute("INSERT INTO raters (name, created_at) VALUES ('ann', 'now')")
    connection.execute(
        "INSERT INTO presentations (token, rater_id, item_id, teacher_side, shown_at) "
        "VALUES ('t1', 1, 'item-0', 'A', 'now')"
    )
    return connection


@pytest.mark.parametrize(
    "sql",
    [
        # a second showing of the same item to the same rater
        "INSERT INTO presentations (token, rater_id, item_id, teacher_side, shown_at) "
        "VALUES ('t2', 1, 'item-0', 'B', 'now')",
        "INSERT INTO presentations (token, rater_id, item_id, teacher_side, shown_at) "
        "VALUES ('t3', 1, 'item-1', 'left', 'now')",  # teacher_side not A/B
        "INSERT INTO presentations (token, rater_id, item_id, teacher_side, shown_at) "
        "VALUES ('t4', 1, 'no-such-item', 'A', 'now')",  # foreign key
        "INSERT INTO ratings (presentation_id, rater_id, item_id, choice, rated_at) "
        "VALUES (1, 1, 'item-0', 'maybe', 'now')",  # choice not A/B/equal
        "INSERT INTO ratings (presentation_id, rater_id, item_id, choice, rated_at) "
        "VALUES (7, 1, 'item-0', 'A', 'now')",  # no such presentation
    ],
)
def test_constraints_refuse_bad_rows(db_path, sql) -> None:
    connection = _seed(db_path)
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(sql)
    connection.close()


def test_a_rater_cannot_rate_an_item_twice(db_path) -> None:
    connection = _seed(db_path)
    insert = (
        "INSERT INTO ratings (presentation_id, rater_id, item_id, choice, rated_at) "
        "VALUES (1, 1, 'item-0', ?, 'now')"
    )
    connection.execute(insert, ("A",))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        connection.execute(insert, ("B",))
    connection.close()
    assert rows(db_path, "SELECT choice FROM ratings") == [("A",)]


def test_verdict_view_maps_choice_and_side(db_path) -> None:
    connection = _seed(db_path)
    connection.execute(
        "INSERT INTO presentations (token, rater_id, item_id, teacher_side, shown_at) "
        "VALUES ('t2', 1, 'item-1', 'B', 'now')"
    )
    for presentation, item, choice in ((1, "item-0", "A"), (2, "item-1", "A")):
        connection.execute(
            "INSERT INTO ratings (presentation_id, rater_id, item_id, choice, rated_at) "
            "VALUES (?, 1, ?, ?, 'now')",
            (presentation, item, choice),
        )
    connection.close()
    # Teacher shown as A and A chosen: the teacher won; teacher shown as B and A chosen: the model.
    assert rows(db_path, "SELECT item_id, verdict FROM verdicts ORDER BY item_id") == [
        ("item-0", "teacher"),
        ("item-1", "model"),
    ]


def test_add_items_is_idempotent_and_refuses_changed_text(db_path) -> None:
    db.create(db_path)
    assert db.add_items(db_path, make_pairs(3)) == (3, 0)
    assert db.add_items(db_path, make_pairs(4)) == (1, 3)
    assert rows(db_path, "SELECT id, position FROM items ORDER BY position")[-1] == ("item-3", 3)
    changed = ReplyPair("item-1", "another instruction", "m", "t", "run-a")
    with pytest.raises(db.DatabaseError, match="'item-1' is already in the database"):
        db.add_items(db_path, [*make_pairs(6)[4:], changed])
    assert db.count_items(db_path) == 4  # the failed load added nothing (one transaction)


def test_concurrent_saves_of_one_presentation_store_one_rating(db_path) -> None:
    store = RatingStore(db_path)
    db.add_items(db_path, make_pairs(1))
    token = store.screen("ann").token
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def post(choice: str) -> None:
        barrier.wait()
        try:
            store.save("ann", token, choice)
            outcomes.append("saved")
        except AlreadyRated:
            outcomes.append("refused")

    threads = [threading.Thread(target=post, args=("AB"[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused"] * 7 + ["saved"]
    assert len(rows(db_path, "SELECT * FROM ratings")) == 1
