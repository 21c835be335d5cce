"""The SQLite request cache: round trips, many threads and processes, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imitate.llm.request_cache import CacheDamaged, RequestCache
from imitate.metrics import LLM_CACHE_HITS, LLM_REQUESTS
from tests.conftest import REPO
from tests.llm.echo_job import JOB_SIZE
from tests.llm.loopback import LoopbackServer

ECHO_JOB = Path(__file__).with_name("echo_job.py")
CHILD_ENV = os.environ | {"PYTHONPATH": str(REPO)}


def test_round_trip_first_writer_wins_and_wal(tmp_path) -> None:
    cache = RequestCache(tmp_path / "sub" / "requests.sqlite")
    assert cache.get("k") is None
    cache.put("k", {"choices": [{"text": "é"}]})
    cache.put("k", {"choices": [{"text": "second"}]})
    assert RequestCache(cache.path).get("k") == {"choices": [{"text": "é"}]}
    assert len(cache) == 1
    with sqlite3.connect(cache.path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_get_many_spans_chunks(tmp_path) -> None:
    cache = RequestCache(tmp_path / "requests.sqlite")
    for i in range(1200):
        cache.put(f"k{i}", {"i": i})
    found = cache.get_many([f"k{i}" for i in range(0, 1300, 2)])
    assert len(found) == 600 and found["k1198"] == {"i": 1198}


def test_many_threads_share_one_cache(tmp_path) -> None:
    cache = RequestCache(tmp_path / "requests.sqlite")

    def work(worker: int) -> int:
        for i in range(50):
            cache.put(f"shared{i}", {"i": i})
            cache.put(f"w{worker}-{i}", {"worker": worker})
        return sum(cache.get(f"shared{i}") == {"i": i} for i in range(50))

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, range(8))) == [50] * 8
    assert len(cache) == 50 + 8 * 50


def test_several_processes_write_one_file(tmp_path) -> None:
    path = tmp_path / "requests.sqlite"
    code = (
        "import sys\nfrom imitate.llm.request_cache import CacheDamaged, RequestCache\n"
        "cache = RequestCache(sys.argv[1])\n"
        "for i in range(100):\n"
        "    cache.put(f'p{sys.argv[2]}-{i}', {'i': i})\n"
        "    cache.put(f'shared{i}', {'i': i})\n"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", code, str(path), str(n)], env=CHILD_ENV)
        for n in range(4)
    ]
    assert [child.wait(timeout=120) for child in children] == [0] * 4
    assert len(RequestCache(path)) == 4 * 100 + 100


def test_a_file_that_is_not_sqlite_is_named(tmp_path) -> None:
    path = tmp_path / "requests.sqlite"
    path.write_text("not a database " * 100)
    with pytest.raises(CacheDamaged, match=r"requests.sqlite is damaged \(file is not a database"):
        RequestCache(path)


def test_unusable_rows_are_misses_requested_again_replaced_and_logged_once(
    server, make_client, caplog
) -> None:
    from tests.support.llm_answers import CHAT, RAW

    client = make_client(server)
    client.generate([CHAT, RAW])
    with sqlite3.connect(client.cache.path) as raw:  # what a bad write or a hand edit leaves
        raw.execute("UPDATE responses SET response = 'not json {'")
        raw.execute("INSERT INTO responses VALUES ('other', '[1, 2]', 0)")
    with caplog.at_level("WARNING", logger="imitate.llm.request_cache"):
        again = make_client(server)
        assert again.generate([CHAT, RAW]) == [["echo: hi you"]] * 2
        assert again.generate([CHAT, RAW]) == [["echo: hi you"]] * 2  # now from the cache
    assert server.count == 4  # each request sent once more, then not again
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "2 cached responses cannot be used" in warnings[0]
    assert str(again.cache.path) in warnings[0] and "requested again and replaced" in warnings[0]
    assert len(again.cache) == 3


def test_a_row_of_the_wrong_shape_is_a_miss(server, make_client) -> None:
    from tests.support.llm_answers import BAD_CHAT, CHAT

    client = make_client(server)
    client.generate([CHAT])
    for bad in ({"object": "chat.completion"}, BAD_CHAT["content_list"], BAD_CHAT["usage_text"]):
        with sqlite3.connect(client.cache.path) as raw:
            raw.execute("UPDATE responses SET response = ?", (json.dumps(bad),))
        assert make_client(server).generate([CHAT]) == [["echo: hi you"]]
    assert server.count == 4


def test_a_zero_byte_file_is_an_empty_cache_with_a_warning(tmp_path, caplog) -> None:
    path = tmp_path / "requests.sqlite"
    path.write_bytes(b"")  # SQLite's empty database; also what a kill right after creation leaves
    with caplog.at_level("WARNING", logger="imitate.llm.request_cache"):
        cache = RequestCache(path)
    assert [r.getMessage() for r in caplog.records] == [
        f"LLM request cache {path} is empty (0 bytes): using it as a new cache. If it held "
        "responses, they were lost outside imitate and are requested (and paid) again"
    ]
    cache.put("k", {"i": 1})
    assert RequestCache(path).get("k") == {"i": 1}


def _row(i: int) -> dict:
    return {"text": f"answer {i} " * 8}


def _filled(tmp_path) -> Path:
    path = tmp_path / "requests.sqlite"
    cache = RequestCache(path)
    for i in range(400):
        cache.put(f"k{i:04d}", _row(i))
    cache.close()  # the last connection checkpoints the WAL into the file
    return path


def _scribble(path: Path) -> None:
    with path.open("r+b") as raw:
        raw.seek(4096 * 5)  # a page of rows, past the schema
        raw.write(bytes(range(256)) * 16)


def test_a_scribbled_page_is_refused_at_open_with_how_to_recover(tmp_path) -> None:
    path = _filled(tmp_path)
    _scribble(path)
    with pytest.raises(CacheDamaged) as error:
        RequestCache(path)
    message = str(error.value)
    assert f"LLM request cache {path} is damaged" in message
    assert ".dump" in message and "move requests.sqlite" in message
    if shutil.which("sqlite3") is None:
        return
    command = message.split("`")[1]  # the salvage the message gives, as given
    subprocess.run(command, shell=True, check=True, timeout=60)
    recovered = RequestCache(tmp_path / "requests.salvaged.sqlite")
    salvaged = recovered.get_many(f"k{i:04d}" for i in range(400))
    assert len(salvaged) == len(recovered) == 364  # all but the rows of the scribbled page
    assert all(response == _row(int(key[1:])) for key, response in salvaged.items())


def test_damage_found_mid_run_names_the_file(tmp_path) -> None:
    path = _filled(tmp_path)
    opened = RequestCache(path)  # opened while sound, damaged while the run goes on
    _scribble(path)
    with ThreadPoolExecutor(1) as pool, pytest.raises(CacheDamaged, match=r"is damaged"):
        pool.submit(opened.get_many, [f"k{i:04d}" for i in range(400)]).result()


def test_sigkill_mid_job_then_rerun_never_sends_a_cached_request_again(tmp_path) -> None:
    cache, out = tmp_path / "requests.sqlite", tmp_path / "out.json"
    kill_at = random.randint(5, 40)  # a random point of the 50-request job
    command = [sys.executable, str(ECHO_JOB), "", str(cache), str(out)]
    with LoopbackServer(latency_s=0.05) as server:
        command[2] = server.url
        child = subprocess.Popen(command, env=CHILD_ENV)
        _wait_for(lambda: server.count >= kill_at or child.poll() is not None, 60)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        before_kill = server.prompts()
        cached_at_kill = _cached_prompts(cache)
        subprocess.run(command, env=CHILD_ENV, check=True, timeout=120)
        after_kill = server.prompts()[len(before_kill) :]

    context = (
        f"killed at arrival {kill_at}: {len(cached_at_kill)} cached, then {len(after_kill)} sent"
    )
    assert 0 < len(cached_at_kill) < JOB_SIZE, context
    assert not set(after_kill) & cached_at_kill, context  # nothing finished was paid for twice
    lost_in_flight = set(before_kill) - cached_at_kill  # sent, but killed before the answer landed
    assert len(lost_in_flight) <= 4, context  # at most max_concurrency were in flight
    assert len(before_kill) + len(after_kill) == JOB_SIZE + len(lost_in_flight), context
    result = json.loads(out.read_text())
    assert result["texts"] == [[f"echo: question {i}"] for i in range(JOB_SIZE)]  # no gap, no dup
    assert result["usage"][LLM_CACHE_HITS] == len(cached_at_kill)
    assert result["usage"][LLM_REQUESTS] == len(after_kill)
    with sqlite3.connect(cache) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _cached_prompts(path: Path) -> set[str]:
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT response FROM responses").fetchall()
    return {json.loads(text)["choices"][0]["text"].removeprefix("echo: ") for (text,) in rows}


def _wait_for(condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the child job"
        time.sleep(0.002)
