"""A persistent SQLite cache of LLM responses keyed by a hash of the full request.

One row per finished response, committed before the caller sees it, so a rerun or a resume after a
crash (SIGKILL included) never sends a finished request again. Beside each response the cache keeps
what it was charged (tokens and dollars), written in the same transaction: a resumed job reads it
back for responses its killed run paid for but never counted (`charged_since`). WAL mode lets
several processes and threads read and write the same file at once. Only responses and charges
are stored: never the API key, never request headers.

Damage is handled in two ways. A row that cannot be used (not JSON, or a shape the caller's check
refuses) is a miss: it is deleted, logged once, requested again and replaced. A damaged file (a
scribbled page, not SQLite at all) is refused with `CacheDamaged` (at open, after a quick check of
every page, or whenever a read or write meets it), naming the file and how to salvage its paid
responses; it is never moved aside or rebuilt behind the user's back, since other
processes may have it open and its rows cost money. A zero-byte file is SQLite's empty database,
and also what a kill between creating a new cache and its first write leaves, so it is used as an
empty cache, with a warning naming it.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from imitate.llm.ledger import Charge

log = logging.getLogger(__name__)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    created REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS charges (
    key TEXT PRIMARY KEY,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL
)""",
)
BUSY_TIMEOUT_S = 60.0
LOOKUP_CHUNK = 500  # well under SQLite's bound-parameter limit
DAMAGED_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB

Check = Callable[[str, dict], None]  # (key, decoded row): raises ValueError when unusable


class CacheDamaged(RuntimeError):
    """The cache file is not a readable SQLite database; the message says how to recover."""


class RequestCache:
    """`get`/`put` JSON responses by request key; one connection per thread and process."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and self.path.stat().st_size == 0:
            log.warning(
                "LLM request cache %s is empty (0 bytes): using it as a new cache. If it held "
                "responses, they were lost outside imitate and are requested (and paid) again",
                self.path,
            )
        self._local = threading.local()
        with self._named("open"):  # the file, the tables, WAL mode and a page check now
            problems = self._connection().execute("PRAGMA quick_check").fetchall()
        if problems != [("ok",)]:
            raise CacheDamaged(_damaged_message(self.path, "; ".join(p for (p,) in problems[:3])))

    def __repr__(self) -> str:
        return f"RequestCache({str(self.path)!r})"

    def get(self, key: str) -> dict | None:
        """The cached response for `key`, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str], check: Check | None = None) -> dict[str, dict]:
        """{key: response} for those of `keys` cached in a form `check` accepts.

        A row that does not decode, or that `check` refuses, is deleted (so the next `put`
        replaces it) and counts as a miss; each such row is logged once.
        """
        unique = list(dict.fromkeys(keys))
        rows: list[tuple[str, str]] = []
        with self._named("read"):
            connection = self._connection()
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += connection.execute(
                    f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
        found, bad = _decode(rows, check)
        if bad:
            with self._named("delete unusable rows"):
                self._connection().executemany(
                    "DELETE FROM responses WHERE key = ? AND response = ?",
                    [(key, text) for key, text, _ in bad],
                )
            _log_unusable(self.path, bad)
        return found

    def put(self, key: str, response: dict, charge: Charge | None = None) -> None:
        """Store `response` (and what it was charged) under `key`, committed when this returns.

        The first writer wins; the charge is stored only with the response it belongs to.
        """
        text = json.dumps(response, ensure_ascii=False)
        with self._named("write"):
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")  # one transaction: a kill leaves both or none
            try:
                inserted = connection.execute(
                    "INSERT OR IGNORE INTO responses (key, response, created) VALUES (?, ?, ?)",
                    (key, text, time.time()),
                ).rowcount
                if inserted and charge is not None:
                    connection.execute(
                        "INSERT OR REPLACE INTO charges VALUES (?, ?, ?, ?)",
                        (key, charge.input_tokens, charge.output_tokens, charge.cost_usd),
                    )
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def charged_since(self, keys: Iterable[str], since: float) -> list[Charge]:
        """The charges of those of `keys` whose responses were stored after `since` (time.time())."""
        unique, charges = list(dict.fromkeys(keys)), []
        with self._named("read"):
            connection = self._connection()
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                rows = connection.execute(
                    "SELECT c.input_tokens, c.output_tokens, c.cost_usd FROM charges c "
                    "JOIN responses r ON r.key = c.key "
                    f"WHERE r.created > ? AND c.key IN ({','.join('?' * len(chunk))})",
                    [since, *chunk],
                )
                charges += [Charge(*row) for row in rows]
        return charges

    def __len__(self) -> int:
        with self._named("read"):
            return self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _connection(self) -> sqlite3.Connection:
        # a connection must not cross a fork, and sqlite3 connections are per thread
        if getattr(self._local, "pid", None) != os.getpid() or self._local.connection is None:
            self._local.connection = _open(self.path)
            self._local.pid = os.getpid()
        return self._local.connection

    @contextmanager
    def _named(self, operation: str) -> Iterator[None]:
        """Any SQLite error becomes one that names the file, and for damage how to recover."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            if getattr(err, "sqlite_errorcode", None) in DAMAGED_CODES:
                raise CacheDamaged(_damaged_message(self.path, str(err))) from err
            raise RuntimeError(
                f"LLM request cache {self.path}: {operation} failed ({err}); point llm.cache at "
                "another file, or llm.cache=null to keep responses in memory only"
            ) from err


class MemoryCache:
    """The same interface held in a dict, for `cache: null` (nothing survives the process)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, float, Charge | None]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryCache()"

    def get(self, key: str) -> dict | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str], check: Check | None = None) -> dict[str, dict]:
        with self._lock:
            rows = [(k, self._rows[k][0]) for k in dict.fromkeys(keys) if k in self._rows]
        found, bad = _decode(rows, check)
        with self._lock:
            for key, _, _ in bad:
                self._rows.pop(key, None)
        if bad:
            _log_unusable("memory", bad)
        return found

    def put(self, key: str, response: dict, charge: Charge | None = None) -> None:
        with self._lock:
            self._rows.setdefault(
                key, (json.dumps(response, ensure_ascii=False), time.time(), charge)
            )

    def charged_since(self, keys: Iterable[str], since: float) -> list[Charge]:
        with self._lock:
            rows = [self._rows[k] for k in dict.fromkeys(keys) if k in self._rows]
        return [charge for _, created, charge in rows if charge and created > since]

    def __len__(self) -> int:
        return len(self._rows)

    def close(self) -> None:
        pass


def open_cache(path: str | os.PathLike | None) -> RequestCache | MemoryCache:
    """A SQLite cache at `path`, or an in-memory one when `path` is None."""
    return MemoryCache() if path is None else RequestCache(path)


def _decode(
    rows: Iterable[tuple[str, str]], check: Check | None
) -> tuple[dict[str, dict], list[tuple[str, str, str]]]:
    """({key: response} of the usable rows, [(key, text, why)] of the others)."""
    found: dict[str, dict] = {}
    bad: list[tuple[str, str, str]] = []
    for key, text in rows:
        try:
            response = json.loads(text)
            if not isinstance(response, dict):
                raise ValueError(f"a JSON {type(response).__name__}, not an object")
            if check is not None:
                check(key, response)
        except ValueError as err:  # json.JSONDecodeError and MalformedResponse are ValueErrors
            bad.append((key, text, str(err)))
        else:
            found[key] = response
    return found, bad


def _log_unusable(where: object, bad: list[tuple[str, str, str]]) -> None:
    key, _, why = bad[0]
    log.warning(
        "LLM request cache %s: %d cached responses cannot be used (the first, key %s…: %s); "
        "they are requested again and replaced",
        where,
        len(bad),
        key[:12],
        why[:200],
    )


def _damaged_message(path: Path, why: str) -> str:
    salvaged = path.with_name(path.stem + ".salvaged" + path.suffix)
    # the sqlite3 shell's .dump skips unreadable pages but ends "ROLLBACK; -- due to errors":
    # committing instead keeps every row it could read
    salvage = (
        f"sqlite3 {shlex.quote(str(path))} .dump | sed 's/^ROLLBACK; -- due to errors$/COMMIT;/' "
        f"| sqlite3 {shlex.quote(str(salvaged))}"
    )
    return (
        f"LLM request cache {path} is damaged ({why[:300]}). Its rows are paid responses: "
        f"salvage the readable ones with `{salvage}` and set llm.cache={salvaged}; or move "
        f"{path.name} (with its -wal and -shm files) aside to start an empty cache, which "
        "requests (and pays for) every response again"
    )


def _open(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    _retry_while_locked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
    # NORMAL in WAL mode: a killed process loses nothing committed (only a power cut could)
    connection.execute("PRAGMA synchronous=NORMAL")
    for table in SCHEMA:
        _retry_while_locked(lambda table=table: connection.execute(table))
    return connection


def _retry_while_locked(statement, attempts: int = 50) -> None:
    # switching to WAL takes an exclusive lock that another process opening the file may hold;
    # SQLite does not always route that through the busy timeout
    for attempt in range(attempts):
        try:
            statement()
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
