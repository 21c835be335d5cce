"""The ratings database: SQLite with a schema, WAL, foreign keys, and one transaction per write.

Durability: WAL with ``synchronous=FULL`` — a rating the server acknowledged (its redirect) is on
disk, even if the process or the machine dies right after. Every connection sets the pragmas
(foreign keys are per connection in SQLite); writes take the lock up front (``BEGIN IMMEDIATE``)
so concurrent raters queue on it instead of failing to upgrade a read lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from imitate.rate.pairs import pair_record
from imitate.reply_pair import ReplyPair

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = (
    30.0  # how long a write waits for the lock before failing (20 raters queue well under)
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL UNIQUE,      -- order in the pairs file(s): ties go to earlier items
    instruction TEXT NOT NULL,
    output_model TEXT NOT NULL,
    output_teacher TEXT NOT NULL,
    model_run_id TEXT                      -- MLflow run of the imitation model, if known
);
CREATE TABLE IF NOT EXISTS raters (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
-- One per (rater, item): which side the teacher's output was shown on, decided when first shown.
CREATE TABLE IF NOT EXISTS presentations (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,            -- opaque and random: all a rating form carries
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    teacher_side TEXT NOT NULL CHECK (teacher_side IN ('A', 'B')),
    shown_at TEXT NOT NULL,
    UNIQUE (rater_id, item_id)
);
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY,
    presentation_id INTEGER NOT NULL UNIQUE REFERENCES presentations(id),
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    item_id TEXT NOT NULL REFERENCES items(id),
    choice TEXT NOT NULL CHECK (choice IN ('A', 'B', 'equal')),  -- as the rater saw it
    rated_at TEXT NOT NULL,
    UNIQUE (rater_id, item_id)
);
CREATE INDEX IF NOT EXISTS ratings_by_item ON ratings (item_id);
CREATE INDEX IF NOT EXISTS presentations_by_item ON presentations (item_id);
-- The choice in the study's terms: derived, never stored twice.
CREATE VIEW IF NOT EXISTS verdicts AS
SELECT r.id AS rating_id, r.item_id, r.rater_id, r.choice, p.teacher_side, p.shown_at, r.rated_at,
       CASE WHEN r.choice = 'equal' THEN 'tie'
            WHEN r.choice = p.teacher_side THEN 'teacher'
            ELSE 'model' END AS verdict
FROM ratings r JOIN presentations p ON p.id = r.presentation_id;
"""


class DatabaseError(RuntimeError):
    """The database cannot serve this pairs file (e.g. an item id already holds other text)."""


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the pragmas every connection needs; autocommit outside ``write``."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA synchronous = FULL")
    return connection


def create(path: str | Path) -> None:
    """Create (or check) the schema; WAL is a property of the file, set once here."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with closing(connect(path)) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise DatabaseError(
                f"{path}: schema version {version}, this imitate reads version {SCHEMA_VERSION}"
            )
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextmanager
def write(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction holding the write lock from the start; rolled back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def now() -> str:
    """UTC timestamp with milliseconds, ISO 8601 (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def add_items(path: str | Path, pairs: Iterable[ReplyPair]) -> tuple[int, int]:
    """Insert new items; (added, already present). An id holding different text is an error."""
    added = unchanged = 0
    with closing(connect(path)) as connection, write(connection):
        position = connection.execute("SELECT COALESCE(MAX(position), -1) FROM items").fetchone()[0]
        for pair in pairs:
            existing = connection.execute("SELECT * FROM items WHERE id = ?", (pair.id,)).fetchone()
            if existing is not None:
                if _differs(existing, pair):
                    raise DatabaseError(
                        f"{path}: item {pair.id!r} is already in the database with other text or "
                        "run id; its ratings refer to that text. Give the new item another id or "
                        "use a new database"
                    )
                unchanged += 1
                continue
            position += 1
            row = pair_record(pair) | {"position": position}
            connection.execute(
                f"INSERT INTO items ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            added += 1
    return added, unchanged


def count_items(path: str | Path) -> int:
    with closing(connect(path)) as connection:
        return connection.execute("SELECT COUNT(*) FROM items").fetchone()[0]


def _differs(row: sqlite3.Row, pair: ReplyPair) -> bool:
    return any(row[column] != value for column, value in pair_record(pair).items())
