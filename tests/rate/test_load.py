"""The real server under 20 concurrent raters: nothing lost, nothing duplicated, nothing lost on a kill."""

from __future__ import annotations

import signal
import threading
import time

import requests

from imitate.rate.client import RaterSession
from tests.rate.conftest import rows

RATERS, PER_RATER = 20, 10
TIME_LIMIT_S = 120  # the whole load, generous for a shared 2-core machine (about 10 s when idle)
# How requests reports a server killed mid-load: a refused or reset connection, or a response cut
# off mid-body (urllib3's ProtocolError, which requests raises as ChunkedEncodingError, not a
# ConnectionError). A timeout or an HTTP error status is not among them: those still fail the test.
KILLED_SERVER_ERRORS = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def new_statuses() -> dict[int, list[int]]:
    """Each rater's response codes, one list per rater, made before any thread reads them."""
    return {index: [] for index in range(RATERS)}


def rate_concurrently(url: str, statuses: dict, stop: threading.Event | None = None) -> float:
    """Each rater posts PER_RATER ratings at once with the others (into ``statuses``); seconds taken."""
    barrier = threading.Barrier(RATERS)
    errors: list[BaseException] = []

    def rater(index: int) -> None:
        # The test's limit is on the whole load; a request stuck behind 19 others on a loaded
        # 2-core machine once passed the client's default 30 s, which this test does not measure.
        session = RaterSession(url, f"rater-{index:02d}", timeout_s=TIME_LIMIT_S)
        session.start()
        barrier.wait(timeout=60)
        try:
            for step in range(PER_RATER):
                token = session.next_token()
                statuses[index].append(session.rate(token, ("A", "B", "equal")[step % 3]))
        except KILLED_SERVER_ERRORS as error:
            if stop is None or not stop.is_set():
                errors.append(error)
        except BaseException as error:  # a thread's exception would otherwise be lost
            errors.append(error)
        finally:
            session.close()

    threads = [threading.Thread(target=rater, args=(i,), daemon=True) for i in range(RATERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIME_LIMIT_S)
    assert not any(thread.is_alive() for thread in threads), "raters still posting at the limit"
    assert errors == []
    return time.perf_counter() - started


def test_twenty_raters_lose_and_duplicate_nothing(served, tmp_path) -> None:
    server = served(PER_RATER)
    statuses = new_statuses()
    seconds = rate_concurrently(server.url, statuses)
    assert all(codes == [303] * PER_RATER for codes in statuses.values()), statuses
    assert seconds < TIME_LIMIT_S
    db_path = tmp_path / "ratings.db"
    assert rows(
        db_path, "SELECT COUNT(*), COUNT(DISTINCT rater_id || '/' || item_id) FROM ratings"
    ) == [(RATERS * PER_RATER, RATERS * PER_RATER)]
    per_item = rows(db_path, "SELECT COUNT(*) FROM ratings GROUP BY item_id")
    assert sorted(per_item) == [(RATERS,)] * PER_RATER
    assert rows(db_path, "SELECT COUNT(*) FROM presentations") == [(RATERS * PER_RATER,)]


def test_acknowledged_ratings_survive_a_kill(served, tmp_path) -> None:
    """SIGKILL mid-load: every rating the server answered 303 for is in the database."""
    server = served(PER_RATER)
    # Filled before the killer thread starts summing them: adding the keys while it iterates the
    # dict can raise "dictionary changed size during iteration" in that thread (then no kill comes).
    statuses = new_statuses()
    stop = threading.Event()

    def kill_after_some() -> None:
        deadline = time.monotonic() + TIME_LIMIT_S
        while sum(len(s) for s in statuses.values()) < RATERS * PER_RATER // 3:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        stop.set()
        server.process.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_after_some, daemon=True)
    killer.start()
    rate_concurrently(server.url, statuses, stop)
    killer.join(timeout=10)
    assert stop.is_set() and server.process.wait(timeout=10) == -signal.SIGKILL
    acknowledged = sum(codes.count(303) for codes in statuses.values())
    assert all(set(codes) <= {303} for codes in statuses.values())
    db_path = tmp_path / "ratings.db"
    assert rows(db_path, "PRAGMA integrity_check") == [("ok",)]
    [(saved,)] = rows(db_path, "SELECT COUNT(*) FROM ratings")
    # At most one post per rater was in flight when the process died.
    assert acknowledged <= saved <= acknowledged + RATERS
    for index, codes in statuses.items():
        [(count,)] = rows(
            db_path,
            "SELECT COUNT(*) FROM ratings r JOIN raters a ON a.id = r.rater_id WHERE a.name = ?",
            (f"rater-{index:02d}",),
        )
        assert codes.count(303) <= count <= codes.count(303) + 1
