"""The rating app's save latency: p99 under 20 concurrent raters against 1 rater, same run.

Run: python bench/bench_rate.py [--raters 20] [--items 50] [--repeats 1]
Prints one JSON object. Each phase starts the real server (``python -m imitate.rate serve`` on
127.0.0.1, a fresh database of ``--items`` pairs, no cap per item) and every rater rates every item
through HTTP as a browser posts: GET /rate for the token, then POST /rate. A save's latency is
the POST's round trip (the transaction with its fsync, and the 303), timed client-side.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from imitate.rate.client import RaterSession
from imitate.rate.pairs import pair_record
from imitate.rate.server import spawned
from imitate.reply_pair import ReplyPair


def write_pairs(path: Path, count: int) -> Path:
    words = ["the", "imitation", "model", "answers", "the", "question", "in", "a", "few", "words"]
    with path.open("w") as handle:
        for i in range(count):
            text = " ".join(words[j % len(words)] for j in range(i, i + 120))
            pair = ReplyPair(
                f"item-{i}", f"Question {i}: {text[:200]}", f"model: {text}", f"teacher: {text}"
            )
            handle.write(json.dumps(pair_record(pair)) + "\n")
    return path


def phase(raters: int, items: int) -> dict:
    """Every rater rates every item at once with the others; latencies of the saves."""
    with tempfile.TemporaryDirectory() as folder:
        pairs = write_pairs(Path(folder) / "pairs.jsonl", items)
        with spawned(["--db", f"{folder}/ratings.db", "--pairs", str(pairs)]) as server:
            latencies, wall_s = _rate(server.url, raters, items)
    ms = np.array(latencies) * 1000
    return {
        "raters": raters,
        "saves": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "saves_per_s": round(len(ms) / wall_s, 1),
    }


def _rate(url: str, raters: int, items: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    failures: list[str] = []
    barrier = threading.Barrier(raters)

    def rater(index: int) -> None:
        session = RaterSession(url, f"rater-{index:02d}")
        session.start()
        barrier.wait()
        for step in range(items):
            token = session.next_token()
            started = time.perf_counter()
            status = session.rate(token, ("A", "B", "equal")[step % 3])
            latencies.append(time.perf_counter() - started)
            if status != 303:
                failures.append(f"rater {index} step {step}: HTTP {status}")
        session.close()

    threads = [threading.Thread(target=rater, args=(i,)) for i in range(raters)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures or len(latencies) != raters * items:
        raise RuntimeError(f"{len(latencies)} saves of {raters * items}; failures: {failures[:5]}")
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--items", type=int, default=50, help="items; each rater rates them all")
    parser.add_argument("--repeats", type=int, default=1, help="baseline/load pairs, interleaved")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        baseline, loaded = phase(1, args.items), phase(args.raters, args.items)
        runs.append({"baseline": baseline, "concurrent": loaded,
                     "p99_ratio": round(loaded["p99_ms"] / baseline["p99_ms"], 2)})  # fmt: skip
    print(json.dumps({"cpus": os.cpu_count(), "items": args.items, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
