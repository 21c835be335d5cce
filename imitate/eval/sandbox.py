"""Run untrusted generated programs, each in its own jailed process: the project's security boundary.

Each program gets fresh network/mount/pid/ipc namespaces (no interface but a downed loopback),
a tmpfs root that only holds read-only system libraries and the interpreter, a private
/sandbox working directory, a scrubbed environment, CPU/memory/process/file-size limits, an
unprivileged uid (nobody, when started as root) and a wall-clock deadline after which every
process it started is killed. See `sandbox_launcher.py` for the steps. Where the OS refuses
namespaces we refuse to run, unless the caller sets `allow_unisolated=True`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_LAUNCHER = Path(__file__).with_name("sandbox_launcher.py")
_DRIVER = Path(__file__).with_name("sandbox_driver.py")
_NOBODY = 65534
_EXIT_TIMEOUT, _EXIT_SETUP_FAILED = 124, 125
_HOST_GRACE_S = 5.0  # the launcher enforces the deadline; the host only backs it up


class SandboxUnavailable(RuntimeError):
    """The OS will not give us the namespaces the sandbox needs."""


@dataclass(frozen=True)
class ExecutionResult:
    passed: bool
    status: str  # "passed", "failed", "timeout", "setup_error"
    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class SandboxLimits:
    wall_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 1 << 30
    max_processes: int = 32
    max_output_bytes: int = 1 << 20
    max_open_files: int = 64


class Sandbox:
    """Runs Python programs in jails, in parallel; `run` is safe to call from many threads."""

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        workers: int | None = None,
        allow_unisolated: bool = False,
    ):
        self.limits = limits or SandboxLimits()
        self.workers = workers or os.cpu_count() or 1
        self.isolated = namespaces_available()
        if not self.isolated and not allow_unisolated:
            raise SandboxUnavailable(
                "imitate.eval.sandbox: this OS refuses user/network namespaces "
                f"({namespace_probe_error()}), so generated code could reach the network and "
                "your files. Run on a host that allows `unshare -rn true`, or opt out "
                "explicitly with eval.tasks.humaneval.allow_unisolated=true (Sandbox(allow_unisolated=True))."
            )

    def run_many(self, programs: Sequence[str]) -> list[ExecutionResult]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self.run, programs))

    def run(self, program: str) -> ExecutionResult:
        return _run_in_jail(program, self.limits, isolated=self.isolated)


def _run_in_jail(program: str, limits: SandboxLimits, *, isolated: bool) -> ExecutionResult:
    nonce = secrets.token_hex(16)
    jail = tempfile.mkdtemp(prefix="imitate-sandbox-")
    # Root drops to nobody inside the jail. Opted-out runs keep our uid: the interpreter may
    # live where nobody cannot read (a pyenv under /root), and without a jail we cannot fix that.
    uid = _NOBODY if os.geteuid() == 0 and isolated else None
    try:
        with (
            tempfile.TemporaryFile() as stdin,
            tempfile.TemporaryFile() as stdout,
            tempfile.TemporaryFile() as stderr,
            tempfile.TemporaryFile() as result,
        ):
            stdin.write(f"{nonce}\n{program}".encode())
            stdin.seek(0)
            cfg = _launcher_config(limits, jail, uid, result.fileno(), isolated)
            exit_code = _launch(cfg, stdin, stdout, stderr, result, limits.wall_s)
            verdict = _read_capped(result, 4096)
            out = _read_capped(stdout, limits.max_output_bytes)
            err = _read_capped(stderr, limits.max_output_bytes)
    finally:
        shutil.rmtree(jail, ignore_errors=True)
    passed = exit_code == 0 and verdict.splitlines()[-1:] == [f"{nonce} passed"]
    return ExecutionResult(passed, _status(passed, exit_code), exit_code, out, err)


def _launcher_config(limits, jail, uid, result_fd, isolated) -> dict:
    return {
        "isolated": isolated,
        "jail": jail,
        "workdir": jail,
        "python": os.path.realpath(sys.executable),
        "python_prefix": os.path.realpath(sys.base_prefix),
        "driver_path": str(_DRIVER),
        "result_fd": result_fd,
        "uid": uid,
        "gid": uid,
        "wall_s": limits.wall_s,
        "cpu_s": limits.cpu_s,
        "memory_bytes": limits.memory_bytes,
        "max_processes": limits.max_processes,
        "max_output_bytes": limits.max_output_bytes,
        "max_open_files": limits.max_open_files,
    }


def _launch(cfg, stdin, stdout, stderr, result, wall_s: float) -> int:
    proc = subprocess.Popen(
        [os.path.realpath(sys.executable), "-I", "-S", str(_LAUNCHER), json.dumps(cfg)],
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        pass_fds=(result.fileno(),),
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    try:
        return proc.wait(timeout=wall_s + _HOST_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return _EXIT_TIMEOUT


def _read_capped(file, limit: int) -> str:
    file.seek(0)
    return file.read(limit).decode("utf-8", errors="replace")


def _status(passed: bool, exit_code: int) -> str:
    if passed:
        return "passed"
    return {_EXIT_TIMEOUT: "timeout", _EXIT_SETUP_FAILED: "setup_error"}.get(exit_code, "failed")


@cache
def _probe() -> str | None:
    """None when a jailed trivial program runs, else why it did not."""
    result = _run_in_jail("pass", SandboxLimits(wall_s=10.0), isolated=True)
    return None if result.passed else (result.stderr.strip() or result.status)


def namespaces_available() -> bool:
    return _probe() is None


def namespace_probe_error() -> str:
    return _probe() or "no error"
