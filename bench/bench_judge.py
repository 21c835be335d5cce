"""Judge throughput through the OpenAI-compatible client: concurrency 8 vs 1 on a fixed-latency server.

Run: python bench/bench_judge.py [--pairs 32] [--latency 0.1]
A loopback server on 127.0.0.1 answers every request after ``--latency`` seconds (the scripted
server of tests/llm/loopback.py); the same pairs are judged, both orders, with
``max_concurrency`` 1 and 8, each with a fresh request cache, so every request goes over HTTP.
Prints one JSON object: judgements per second at each setting and their ratio (ideal: 8).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.llm.loopback

from imitate.judge.pairwise import PairwiseJudge  # noqa: E402
from imitate.llm.openai_client import OpenAIClient  # noqa: E402
from imitate.reply_pair import ReplyPair  # noqa: E402
from tests.llm.loopback import LoopbackServer  # noqa: E402

JUDGE_CFG = Path(__file__).resolve().parents[1] / "conf" / "judge" / "pairwise.yaml"


def judge_once(url: str, pairs: list[ReplyPair], concurrency: int) -> dict:
    """Judge every pair in both orders through a fresh client; wall time and throughput."""
    settings = OmegaConf.to_container(OmegaConf.load(JUDGE_CFG))
    with tempfile.TemporaryDirectory() as cache_dir:
        client = OpenAIClient(
            url, "echo-model", max_concurrency=concurrency, cache=Path(cache_dir) / "cache.sqlite"
        )
        try:
            start = time.perf_counter()
            rows = PairwiseJudge(client, **settings).judge(pairs)
            seconds = time.perf_counter() - start
        finally:
            client.close()
    judgements = 2 * len(rows)
    return {
        "concurrency": concurrency,
        "judgements": judgements,
        "seconds": round(seconds, 3),
        "judgements_per_s": round(judgements / seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1, help="server seconds per request")
    args = parser.parse_args()
    pairs = [ReplyPair(str(i), f"question {i}", f"answer one {i}", f"answer two {i}") for i in range(args.pairs)]  # fmt: skip
    with LoopbackServer(latency_s=args.latency) as server:
        serial = judge_once(server.url, pairs, 1)
        parallel = judge_once(server.url, pairs, 8)
        most_at_once = server.max_in_flight
    result = {
        "bench": "judge_throughput",
        "pairs": args.pairs,
        "server_latency_s": args.latency,
        "concurrency_1": serial,
        "concurrency_8": parallel,
        "speedup_8_over_1": round(parallel["judgements_per_s"] / serial["judgements_per_s"], 2),
        "server_max_in_flight": most_at_once,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
