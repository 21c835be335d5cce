"""HumanEval canonical solutions through the hardened sandbox vs the sandbox before the hardening.

Run: python bench/humaneval_sandbox.py [--limit 164] [--repeats 3] [--baseline-commit fa6d228]

The baseline is the sandbox as it was at `--baseline-commit` (its three modules, read with
`git show` into a temporary folder and imported from there), so both run in the same process on
the same submissions (this branch's `build_submission`: the program without the tests). The two
alternate, in rotating order. Reported: the best wall time of each, and the median CPU time
(this process and every jail process, user + system), which a shared, loaded machine disturbs far
less than wall time. Needs the git history and, like the sandbox, namespaces.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from types import ModuleType

from imitate import metrics
from imitate.eval.humaneval import load_problems, score_completions
from imitate.eval.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent
SANDBOX_MODULES = ("sandbox.py", "sandbox_launcher.py", "sandbox_driver.py")


def baseline_sandbox_module(commit: str, folder: Path) -> ModuleType:
    """imitate.eval.sandbox as of `commit`: it finds its launcher and driver beside itself."""
    for name in SANDBOX_MODULES:
        text = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{commit}:imitate/eval/{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (folder / name).write_text(text)
    spec = importlib.util.spec_from_file_location("baseline_sandbox", folder / "sandbox.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def cpu_seconds() -> float:
    """CPU time of this process and of every jail it has waited for (launchers and drivers)."""
    own, jails = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + jails.ru_utime + jails.ru_stime


def timed_pass(problems: list[dict], sandbox) -> tuple[float, float, float]:
    """Wall seconds and CPU seconds for all problems' canonical solutions, and their pass@1."""
    completions = [[p["canonical_solution"]] for p in problems]
    start, start_cpu = time.perf_counter(), cpu_seconds()
    scores, _ = score_completions(problems, completions, sandbox)
    took, took_cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    return took, took_cpu, scores[metrics.HUMANEVAL_PASS_AT_1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=164)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-commit", default="fa6d228")
    args = parser.parse_args()
    problems = load_problems(limit=args.limit)
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        baseline = baseline_sandbox_module(args.baseline_commit, Path(folder))
        sandboxes = {
            "hardened": Sandbox(workers=workers),
            "baseline": baseline.Sandbox(workers=workers),
        }
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sandboxes}
        order = list(sandboxes)
        for repeat in range(args.repeats):
            for name in order[repeat % 2 :] + order[: repeat % 2]:
                runs[name].append(timed_pass(problems, sandboxes[name]))
    wall = {name: min(r[0] for r in rs) for name, rs in runs.items()}
    cpu = {name: median(r[1] for r in rs) for name, rs in runs.items()}
    report = {
        "problems": len(problems),
        "workers": workers,
        "wall_s": {name: [round(r[0], 1) for r in rs] for name, rs in runs.items()},
        "cpu_s": {name: [round(r[1], 1) for r in rs] for name, rs in runs.items()},
        "pass@1": {name: [r[2] for r in rs] for name, rs in runs.items()},
        "best_problems_per_s": {name: len(problems) / s for name, s in wall.items()},
        "wall_ratio_hardened_over_baseline": wall["hardened"] / wall["baseline"],
        "cpu_ratio_hardened_over_baseline": cpu["hardened"] / cpu["baseline"],
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
