"""A persistent SQLite cache of LLM responses keyed by a hash of the full request.

One row per finished response, committed before the caller sees it, so a rerun or a resume after a
crash (SIGKILL included) never sends a finished request again. WAL mode lets several processes and
threads read and write the same file at once. Only responses are stored: never the API key, never
request headers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""
BUSY_TIMEOUT_S = 60.0
LOOKUP_CHUNK = 500  # well under SQLite's bound-parameter limit


class RequestCache:
    """`get`/`put` JSON responses by request key; one connection per thread and process."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection()  # create the file, the table and WAL mode now: errors surface at build

    def __repr__(self) -> str:
        return f"RequestCache({str(self.path)!r})"

    def get(self, key: str) -> dict | None:
        """The cached response for `key`, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        """{key: response} for those of `keys` that are cached."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, dict] = {}
        connection = self._connection()
        for start in range(0, len(unique), LOOKUP_CHUNK):
            chunk = unique[start : start + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = connection.execute(
                f"SELECT key, response FROM responses WHERE key IN ({marks})", chunk
            )
            found.update((key, json.loads(text)) for key, text in rows)
        return found

    def put(self, key: str, response: dict) -> None:
        """Store `response` under `key`, committed when this returns (the first writer wins)."""
        text = json.dumps(response, ensure_ascii=False)
        # autocommit: the single INSERT is its own transaction, so a kill leaves no partial row
        self._connection().execute(
            "INSERT OR IGNORE INTO responses (key, response, created) VALUES (?, ?, ?)",
            (key, text, time.time()),
        )

    def __len__(self) -> int:
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


class MemoryCache:
    """The same interface held in a dict, for `cache: null` (nothing survives the process)."""

    def __init__(self) -> None:
        self._responses: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryCache()"

    def get(self, key: str) -> dict | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        with self._lock:
            return {k: json.loads(self._responses[k]) for k in keys if k in self._responses}

    def put(self, key: str, response: dict) -> None:
        with self._lock:
            self._responses.setdefault(key, json.dumps(response, ensure_ascii=False))

    def __len__(self) -> int:
        return len(self._responses)

    def close(self) -> None:
        pass


def open_cache(path: str | os.PathLike | None) -> RequestCache | MemoryCache:
    """A SQLite cache at `path`, or an in-memory one when `path` is None."""
    return MemoryCache() if path is None else RequestCache(path)


def _open(path: Path) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        _retry_while_locked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
        # NORMAL in WAL mode: a killed process loses nothing committed (only a power cut could)
        connection.execute("PRAGMA synchronous=NORMAL")
        _retry_while_locked(lambda: connection.execute(SCHEMA))
    except sqlite3.DatabaseError as err:
        raise RuntimeError(
            f"LLM request cache {path}: cannot open it as SQLite ({err}); point llm.cache at "
            f"another file or delete this one"
        ) from err
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
