"""Query diversity on the packaged ShareGPT: fast candidate search vs brute force, and full wall time.

Run: python bench/bench_diversity.py [--sample 1000] [--sacrebleu-sample 200] [--skip-full]
Prints one JSON object. On a sample, the fast path and brute force run on one core each, so
the ratio is the algorithm's; the full run uses ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time

import numpy as np
import sacrebleu

from imitate.data.conversations import normalise_all
from imitate.data.nearest import SearchSettings
from imitate.data.overlap import BRUTE_FORCE, query_diversity, user_queries
from imitate.data.report import DataReport
from imitate.data.sources import PACKAGED, read_records


def sharegpt_queries() -> list[str]:
    report = DataReport()
    return user_queries(list(normalise_all(read_records(PACKAGED, report), "sharegpt", report)))


def fast_vs_brute(queries: list[str]) -> dict:
    """Both searches on the same queries, one core each: times, ratio, and how far apart."""
    fast = query_diversity(queries, SearchSettings(workers=1))
    brute = query_diversity(queries, BRUTE_FORCE)
    gap = brute.best_bleu - fast.best_bleu
    return {
        "queries": len(queries),
        "fast_s": round(fast.seconds, 2),
        "brute_force_s": round(brute.seconds, 2),
        "brute_over_fast": round(brute.seconds / fast.seconds, 1),
        "mean_bleu_fast": round(fast.mean_bleu, 3),
        "mean_bleu_brute": round(brute.mean_bleu, 3),
        "max_gap": round(float(gap.max()), 3),
        "mean_gap": round(float(gap.mean()), 4),
        "queries_differing": int((gap > 1e-9).sum()),
    }


def fast_vs_sacrebleu_loop(queries: list[str]) -> dict:
    """The definition run literally: sacrebleu.sentence_bleu on every ordered pair."""
    started = time.perf_counter()
    best = [
        max(sacrebleu.sentence_bleu(h, [r]).score for j, r in enumerate(queries) if j != i)
        for i, h in enumerate(queries)
    ]
    loop_s = time.perf_counter() - started
    fast = query_diversity(queries, SearchSettings(workers=1))
    return {
        "queries": len(queries),
        "sacrebleu_loop_s": round(loop_s, 2),
        "fast_s": round(fast.seconds, 2),
        "loop_over_fast": round(loop_s / fast.seconds, 1),
        "max_abs_difference": round(float(np.abs(np.array(best) - fast.best_bleu).max()), 6),
    }


def full_run(queries: list[str], workers: int) -> dict:
    cpu_started = time.process_time()
    result = query_diversity(queries, SearchSettings(workers=workers))
    return {
        "queries": result.n_queries,
        "mean_bleu": round(result.mean_bleu, 3),
        "wall_s": round(result.seconds, 1),
        "main_process_cpu_s": round(time.process_time() - cpu_started, 1),
        "workers": workers,
        "settings": dataclasses.asdict(SearchSettings(workers=workers)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=1000, help="queries for fast vs brute force")
    parser.add_argument(
        "--sacrebleu-sample", type=int, default=200, help="queries for the sacrebleu loop"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="skip the full-ShareGPT run")
    args = parser.parse_args()
    queries = sharegpt_queries()
    rng = random.Random(0)
    results = {
        "fast_vs_brute_force": fast_vs_brute(rng.sample(queries, args.sample)),
        "fast_vs_sacrebleu_loop": fast_vs_sacrebleu_loop(
            rng.sample(queries, args.sacrebleu_sample)
        ),
    }
    if not args.skip_full:
        results["full_sharegpt"] = full_run(queries, args.workers)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
