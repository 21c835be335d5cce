"""HumanEval canonical solutions through the sandbox: problems/s with all cores vs one.

Run: python bench/humaneval_sandbox.py [--limit 164]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from imitate.eval.humaneval import load_problems, score_completions
from imitate.eval.sandbox import Sandbox


def problems_per_second(problems: list[dict], workers: int) -> tuple[float, float]:
    completions = [[p["canonical_solution"]] for p in problems]
    start = time.perf_counter()
    scores, _ = score_completions(problems, completions, Sandbox(workers=workers))
    return len(problems) / (time.perf_counter() - start), scores["humaneval/pass@1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=164)
    args = parser.parse_args()
    problems = load_problems(limit=args.limit)
    cores = os.cpu_count() or 1
    one, pass_one = problems_per_second(problems, 1)
    many, pass_many = problems_per_second(problems, cores)
    report = {
        "problems": len(problems),
        "cores": cores,
        "one_worker_problems_per_s": one,
        "all_cores_problems_per_s": many,
        "speedup": many / one,
        "pass@1": [pass_one, pass_many],
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
