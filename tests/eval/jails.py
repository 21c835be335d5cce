"""What the sandbox tests share: the one test they run, programs for it, and what a jail left."""

import ast
from pathlib import Path

import pytest

from imitate.eval.sandbox import Sandbox, Submission, namespaces_available

# Only the tests that need real isolation skip; the refusal test runs everywhere.
needs_namespaces = pytest.mark.skipif(
    not namespaces_available(), reason="this OS refuses namespaces"
)
DRIVER_MARK = "Runs inside the jail as"  # from the driver's docstring, on every jailed cmdline
# Several calls, so no constant answer passes.
CHECK = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 6\n"
RIGHT = "def f(x):\n    return 2 * x\n"
WRONG = "def f(x):\n    return x\n"


def leftover_jailed_processes() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and DRIVER_MARK in (entry / "cmdline").read_text():
                pids.append(int(entry.name))
        except OSError:
            continue  # it exited while we looked
    return pids


def jailed_observation(sandbox: Sandbox, expression: str, setup: str = ""):
    """What `expression` evaluates to inside a jail (printed by the program, read back here)."""
    program = f"{setup}\nprint(repr({expression}))\n{RIGHT}"
    result = sandbox.run(Submission(program, CHECK, "f"))
    assert result.passed, result
    return ast.literal_eval(result.stdout.strip())
