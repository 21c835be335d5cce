"""Rating sessions over the database: the next item for a rater, its blind order, saving a choice."""

from __future__ import annotations

import random
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from imitate.rate import db

CHOICES = ("A", "B", "equal")
MAX_NAME = 64
TOKEN_BYTES = 18  # 24 URL-safe characters, the same length for every presentation


@dataclass(frozen=True)
class Screen:
    """What a rater's page shows. Nothing here says which side is the teacher's, by design."""

    token: str
    instruction: str
    output_a: str
    output_b: str
    rated: int  # by this rater so far
    remaining: int  # for this rater, this item included


class RatingError(Exception):
    """A post that cannot be saved; ``status`` is the HTTP status the app answers with."""

    status = 400


class UnknownPresentation(RatingError):
    status = 404


class NotYourPresentation(RatingError):
    status = 403


class AlreadyRated(RatingError):
    status = 409


class BadRaterName(ValueError):
    """A rater name that is empty, too long or holds control characters."""


def clean_rater_name(raw: str) -> str:
    """Whitespace collapsed; 1-64 printable characters (names are ids, not accounts)."""
    name = " ".join(raw.split())
    if not name:
        raise BadRaterName("enter a name (any name or code you will use again to resume)")
    if len(name) > MAX_NAME:
        raise BadRaterName(f"a name has at most {MAX_NAME} characters, this one {len(name)}")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise BadRaterName("a name cannot hold control characters")
    return name


# Items this rater has not been shown, preferring ones that still need ratings counting the ones on
# someone's screen, then the fewest ratings, then the fewest showings, then file order. With a cap
# N, items with N ratings are done; an item only "full" through open screens stays eligible, so an
# abandoned screen never blocks an item.
_CANDIDATES = """
FROM items i
LEFT JOIN (SELECT item_id, COUNT(*) AS n FROM ratings GROUP BY item_id) r ON r.item_id = i.id
LEFT JOIN (SELECT item_id, COUNT(*) AS n FROM presentations GROUP BY item_id) p ON p.item_id = i.id
WHERE NOT EXISTS (SELECT 1 FROM presentations q WHERE q.item_id = i.id AND q.rater_id = :rater)
  AND (:cap IS NULL OR COALESCE(r.n, 0) < :cap)
"""
_NEXT_ITEM = f"""SELECT i.id {_CANDIDATES}
ORDER BY (:cap IS NOT NULL AND COALESCE(p.n, 0) >= :cap), COALESCE(r.n, 0), COALESCE(p.n, 0),
         i.position
LIMIT 1"""
_OPEN = """SELECT p.token, p.teacher_side, i.instruction, i.output_model, i.output_teacher
FROM presentations p JOIN items i ON i.id = p.item_id
WHERE p.rater_id = ? AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.presentation_id = p.id)
ORDER BY p.id LIMIT 1"""


class RatingStore:
    """Blind pairwise rating over one SQLite file; safe for many threads and processes at once."""

    def __init__(
        self,
        path: str | Path,
        ratings_per_item: int | None = None,
        rng: random.Random | None = None,
    ):
        if ratings_per_item is not None and ratings_per_item < 1:
            raise ValueError(f"ratings_per_item must be >= 1 or None, got {ratings_per_item}")
        self.path = Path(path)
        self.ratings_per_item = ratings_per_item
        self._rng = rng or secrets.SystemRandom()  # tests pass a seeded one
        # Writers in this process queue on a lock rather than on SQLite's busy handler, which
        # polls with growing sleeps and gave seconds-long tails under 20 raters (bench_rate.py).
        # The busy timeout still covers other processes (an export while serving).
        self._write_lock = threading.Lock()
        self._local = threading.local()
        db.create(self.path)

    def screen(self, rater: str) -> Screen | None:
        """The rater's open item (resume) or a new one in a fresh random order; None when done."""
        connection = self._connection()  # a reload only reads: no write lock
        known = connection.execute("SELECT id FROM raters WHERE name = ?", (rater,)).fetchone()
        row = known and connection.execute(_OPEN, (known["id"],)).fetchone()
        if row:
            return self._screen(connection, known["id"], row)
        with self._transaction() as connection:
            rater_id = self._rater_id(connection, rater)
            row = connection.execute(_OPEN, (rater_id,)).fetchone() or self._present(
                connection, rater_id
            )
            return self._screen(connection, rater_id, row) if row else None

    def rated(self, rater: str) -> int:
        """How many items this rater has rated."""
        connection = self._connection()
        row = connection.execute("SELECT id FROM raters WHERE name = ?", (rater,)).fetchone()
        return _rated(connection, row["id"]) if row else 0

    def save(self, rater: str, token: str, choice: str) -> None:
        """Record the choice for the presentation behind ``token``, once; raises RatingError."""
        if choice not in CHOICES:
            raise RatingError(f"choice must be one of {', '.join(CHOICES)}, got {choice!r}")
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT p.id, p.rater_id, p.item_id, r.name FROM presentations p "
                "JOIN raters r ON r.id = p.rater_id WHERE p.token = ?",
                (token,),
            ).fetchone()
            if row is None:
                raise UnknownPresentation("no such presentation token: reload the rating page")
            if row["name"] != rater:
                raise NotYourPresentation("this item was shown to another rater")
            try:
                connection.execute(
                    "INSERT INTO ratings (presentation_id, rater_id, item_id, choice, rated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (row["id"], row["rater_id"], row["item_id"], choice, db.now()),
                )
            except sqlite3.IntegrityError as error:  # UNIQUE(presentation) / UNIQUE(rater, item)
                raise AlreadyRated("this item is already rated; the first choice stands") from error

    def _screen(self, connection: sqlite3.Connection, rater_id: int, row: sqlite3.Row) -> Screen:
        sides = (row["output_teacher"], row["output_model"])
        first, second = sides if row["teacher_side"] == "A" else sides[::-1]
        left = 1 + self._left(connection, rater_id)
        return Screen(
            row["token"], row["instruction"], first, second, _rated(connection, rater_id), left
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, db.write(self._connection()) as connection:
            yield connection

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread, kept: closing the last connection to a WAL database
        # checkpoints it (an fsync of the database file), which cost ~10 ms per request.
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = db.connect(self.path)
        return connection

    def _rater_id(self, connection: sqlite3.Connection, name: str) -> int:
        connection.execute(
            "INSERT OR IGNORE INTO raters (name, created_at) VALUES (?, ?)", (name, db.now())
        )
        return connection.execute("SELECT id FROM raters WHERE name = ?", (name,)).fetchone()[0]

    def _present(self, connection: sqlite3.Connection, rater_id: int) -> sqlite3.Row | None:
        params = {"rater": rater_id, "cap": self.ratings_per_item}
        item = connection.execute(_NEXT_ITEM, params).fetchone()
        if item is None:
            return None
        connection.execute(
            "INSERT INTO presentations (token, rater_id, item_id, teacher_side, shown_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                secrets.token_urlsafe(TOKEN_BYTES),
                rater_id,
                item["id"],
                self._rng.choice("AB"),
                db.now(),
            ),
        )
        return connection.execute(_OPEN, (rater_id,)).fetchone()

    def _left(self, connection: sqlite3.Connection, rater_id: int) -> int:
        params = {"rater": rater_id, "cap": self.ratings_per_item}
        return connection.execute(f"SELECT COUNT(*) {_CANDIDATES}", params).fetchone()[0]


def _rated(connection: sqlite3.Connection, rater_id: int) -> int:
    return connection.execute(
        "SELECT COUNT(*) FROM ratings WHERE rater_id = ?", (rater_id,)
    ).fetchone()[0]
