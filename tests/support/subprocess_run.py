"""``python -m imitate…`` as a user runs it from a shell: one runner for every test that does.

The child imports the code under test (``PYTHONPATH`` is this checkout, whatever is installed),
logs to the MLflow store the test names (``MLFLOW_TRACKING_URI``), and a failure shows the command,
its exit status and the tail of what it printed, not only "exit 1".
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.conftest import REPO

TAIL_CHARS = 4000  # of stdout and of stderr: a traceback and the lines before it


def mlflow_uri(folder: Path) -> str:
    """A fresh SQLite MLflow store in ``folder``."""
    return f"sqlite:///{folder}/mlflow.db"


def imitate_command(*args: str, module: str = "imitate", launcher: Sequence[str] = ()) -> list[str]:
    """``python [launcher…] -m module args…``; ``launcher`` is e.g. ``-m torch.distributed.run …``."""
    return [sys.executable, *launcher, "-m", module, *args]


def imitate_env(uri: str | None, env: Mapping[str, str | None] = ()) -> dict[str, str]:
    """This process's environment, importing this checkout, with ``uri`` as the MLflow store.

    ``env`` adds variables; a ``None`` value removes one (e.g. ``HYDRA_FULL_ERROR``).
    """
    child = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    if uri is not None:
        child["MLFLOW_TRACKING_URI"] = uri
    for name, value in dict(env).items():
        if value is None:
            child.pop(name, None)
        else:
            child[name] = value
    return child


def run_imitate(
    args: Sequence[str],
    *,
    cwd: Path,
    uri: str | None,
    timeout_s: float,
    module: str = "imitate",
    launcher: Sequence[str] = (),
    env: Mapping[str, str | None] = (),
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` to its end; with ``check``, fail the test unless it exits 0."""
    command = imitate_command(*args, module=module, launcher=launcher)
    try:
        done = subprocess.run(command, cwd=cwd, env=imitate_env(uri, env), capture_output=True,
                              text=True, timeout=timeout_s)  # fmt: skip
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"`{shlex.join(command)}` still ran after {timeout_s:.0f} s\n"
                    f"{_tails(error.stdout, error.stderr)}", pytrace=False)  # fmt: skip
    if check and done.returncode != 0:
        pytest.fail(failure_message(done), pytrace=False)
    return done


def failure_message(done: subprocess.CompletedProcess) -> str:
    """The command, its exit status and the tails of its stdout and stderr."""
    command = shlex.join(map(str, done.args))
    return f"`{command}` exited {done.returncode}\n{_tails(done.stdout, done.stderr)}"


def _tails(stdout: str | bytes | None, stderr: str | bytes | None) -> str:
    parts = []
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if isinstance(text, bytes):  # what a timeout leaves: the raw bytes read so far
            text = text.decode("utf-8", "replace")
        parts.append(f"--- {name} (last {TAIL_CHARS} characters) ---\n{(text or '')[-TAIL_CHARS:]}")
    return "\n".join(parts)
