"""Run untrusted generated programs against trusted tests, each side in its own jailed process.

This is the project's security boundary. Each jail gets fresh network/mount/pid/ipc namespaces (no
interface but a downed loopback), a tmpfs root capped in bytes and inodes that only holds
read-only system libraries and the interpreter (its site-packages masked), a private /sandbox
working directory, a scrubbed environment, an unprivileged uid of its own (when started as root;
unique across host processes, see `sandbox_uids`) and a wall-clock deadline after which every
process it started is killed. Its limits hold for the jail as a whole: at most `max_processes`
processes and threads, each mapping at most `memory_bytes // max_processes`; a seccomp filter
denies the calls whose kernel state outlives the jail or escapes those limits (keyrings, SysV
IPC, memfds, ...). See `sandbox_launcher.py` for the steps. Where the OS refuses namespaces or
the filter we refuse to run, unless the caller sets `allow_unisolated=True`.

Why a program cannot forge its verdict. Code that controls its interpreter can fake anything
that interpreter reports: its exit status, its output, a token hidden in the driver's frames or
heap, `assert`, `check` itself. So nothing the program's process says counts as "passed". A
test runs as two processes, in two jails, joined by two pipes (`sandbox_driver.py`):

- the *program* executes the generated code, then only answers calls to its entry point;
- the *checker* executes the benchmark's own tests, never generated code, with a stand-in for
  the entry point that forwards each call to the program and decodes the answer with `json`
  into builtin values only (None, bool, int, float, str, list, tuple, dict, set, frozenset,
  bytes, an iterator over a list): no pickle, no eval, no object with methods of the program's
  making. The checker alone writes the verdict, to a file only it and this host process hold.

The program reaches the checker only through its answers. The jails have separate pid
namespaces (the program cannot name, signal or ptrace the checker), separate mount namespaces
and tmpfs roots without /proc, separate network and IPC namespaces (no abstract sockets or shared
memory) and no shared writable file; a chrooted process cannot create a user namespace to regain
privileges, and the checker is non-dumpable besides. So the tests compare honest values that the
program returned, in a process it cannot touch: it passes only by answering the calls as the
tests require, which is what passing means. Dying, hanging, exiting early, printing markers,
writing to its fds or answering garbage all read as failure, and an object that claims to equal
everything cannot cross the pipe. With `allow_unisolated=True` neither the host nor the verdict
is protected.
"""

from __future__ import annotations

import json
import os
import signal
import site
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from imitate.eval import sandbox_uids

_LAUNCHER = Path(__file__).with_name("sandbox_launcher.py")
_DRIVER = Path(__file__).with_name("sandbox_driver.py")
_EXIT_TIMEOUT, _EXIT_SETUP_FAILED = 124, 125
_SETUP_FAILED = "imitate sandbox setup failed"  # the launcher's stderr when it could not jail
_HOST_GRACE_S = 5.0  # the launchers enforce the deadline; the host only backs them up
_FLUSH_GRACE_S = 1.0  # once the verdict is in, how long the program may take to exit by itself


class SandboxUnavailable(RuntimeError):
    """The OS will not give us the namespaces the sandbox needs."""


@dataclass(frozen=True)
class Submission:
    """One test: the untrusted program, the trusted tests that judge it, the function they call."""

    program: str  # executed in the program's jail; must define `entry_point`
    tests: str  # defines `check(candidate)`; executed only in the checker's jail
    entry_point: str


@dataclass(frozen=True)
class ExecutionResult:
    passed: bool
    status: str  # "passed", "failed", "timeout", "setup_error"
    exit_code: int  # the program's
    stdout: str  # the program's
    stderr: str  # the program's
    check_log: str  # the checker's verdict and traceback: why the tests failed


@dataclass(frozen=True)
class SandboxLimits:
    """Per jail (the program's and the checker's each); answers are capped at max_output_bytes.

    `memory_bytes` is the jail's total: each of its at most `max_processes` processes and threads
    may map `memory_bytes // max_processes` (see `sandbox_launcher.set_limits`).
    """

    wall_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 1 << 30
    max_processes: int = 8
    max_output_bytes: int = 1 << 20
    max_open_files: int = 64


class Sandbox:
    """Runs submissions in jails, in parallel; `run` is safe to call from many threads."""

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

    def run_many(self, submissions: Sequence[Submission]) -> list[ExecutionResult]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self.run, submissions))

    def run(self, submission: Submission) -> ExecutionResult:
        return _run_test(submission, self.limits, isolated=self.isolated)


def _run_test(submission: Submission, limits: SandboxLimits, *, isolated: bool) -> ExecutionResult:
    with ExitStack() as stack:

        def temp_file():
            return stack.enter_context(tempfile.TemporaryFile())

        def jail() -> str:
            return stack.enter_context(
                tempfile.TemporaryDirectory(prefix="imitate-sandbox-", ignore_cleanup_errors=True)
            )

        program_io = [temp_file() for _ in range(3)]
        checker_io = [temp_file() for _ in range(3)]
        verdict = temp_file()
        _write(
            program_io[0], {"program": submission.program, "entry_point": submission.entry_point}
        )
        _write(
            checker_io[0],
            {
                "tests": submission.tests,
                "entry_point": submission.entry_point,
                "max_answer_bytes": limits.max_output_bytes,
            },
        )
        calls_read, calls_write = os.pipe()
        answers_read, answers_write = os.pipe()
        try:
            program = _start(
                "program", program_io, [calls_read, answers_write], jail(), limits, isolated
            )
            try:
                checker = _start(
                    "checker",
                    checker_io,
                    [verdict.fileno(), calls_write, answers_read],
                    jail(),
                    limits,
                    isolated,
                )
            except BaseException:
                _stop(program)
                raise
        finally:
            # Only the two jails may hold the pipes, or a side that dies would never read as EOF.
            for fd in (calls_read, calls_write, answers_read, answers_write):
                os.close(fd)
        checker_code = _wait(checker, limits.wall_s + _HOST_GRACE_S)
        program_code = _stop(program)
        verdict_text = _read_capped(verdict, 4096)
        out, err = (_read_capped(f, limits.max_output_bytes) for f in program_io[1:])
        check_err = _read_capped(checker_io[2], limits.max_output_bytes)
    passed = checker_code == 0 and verdict_text.startswith("passed")
    setup_failed = _SETUP_FAILED in err + check_err
    status = _status(passed, setup_failed, timed_out=_EXIT_TIMEOUT in (checker_code, program_code))
    return ExecutionResult(passed, status, program_code, out, err, f"{verdict_text}\n{check_err}")


def _write(file, spec: dict) -> None:
    file.write(json.dumps(spec).encode())
    file.seek(0)


def _start(
    role: str, io: list, fds: list[int], jail: str, limits, isolated: bool
) -> subprocess.Popen:
    # Opted-out runs keep our uid: the interpreter may live where another uid cannot read (a
    # pyenv under /root), and without a jail (which binds it in readable) we cannot fix that.
    uid = sandbox_uids.jail_uid() if os.geteuid() == 0 and isolated else None
    cfg = {
        "role": role,
        "isolated": isolated,
        "jail": jail,
        "workdir": jail,
        "python": os.path.realpath(sys.executable),
        "python_prefix": os.path.realpath(sys.base_prefix),
        "hidden_dirs": _package_dirs(),
        "driver_path": str(_DRIVER),
        "fds": fds,
        "uid": uid,
        "gid": uid,
        "wall_s": limits.wall_s,
        "cpu_s": limits.cpu_s,
        "memory_bytes": limits.memory_bytes,
        "max_processes": limits.max_processes,
        "max_output_bytes": limits.max_output_bytes,
        "max_open_files": limits.max_open_files,
    }
    stdin, stdout, stderr = io
    return subprocess.Popen(
        [os.path.realpath(sys.executable), "-I", "-S", str(_LAUNCHER), json.dumps(cfg)],
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        pass_fds=fds,
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )


@cache
def _package_dirs() -> list[str]:
    """Installed packages' folders, masked in the jail: the stdlib alone is bound in."""
    found = site.getsitepackages() + site.getsitepackages([sys.base_prefix])
    found.append(site.getusersitepackages())
    return sorted({os.path.realpath(d) for d in found})


def _wait(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return _EXIT_TIMEOUT


def _stop(proc: subprocess.Popen) -> int:
    """The program's exit status, once the verdict is in: it may exit by itself, else it is ended."""
    try:
        return proc.wait(timeout=_FLUSH_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the launcher kills its jail and reports
        return _wait(proc, _HOST_GRACE_S)


def _read_capped(file, limit: int) -> str:
    file.seek(0)
    return file.read(limit).decode("utf-8", errors="replace")


def _status(passed: bool, setup_failed: bool, timed_out: bool) -> str:
    if passed:
        return "passed"
    if setup_failed:
        return "setup_error"
    return "timeout" if timed_out else "failed"


PROBE = Submission(
    "def f():\n    return 1\n", "def check(candidate):\n    assert candidate() == 1\n", "f"
)


def _probe_once() -> str | None:
    """None when a trivial test passes in two jails, else why it did not."""
    result = _run_test(PROBE, SandboxLimits(wall_s=10.0), isolated=True)
    if result.passed:
        return None
    return (result.stderr.strip() + " " + result.check_log.strip()).strip() or result.status


_probe = cache(_probe_once)


def namespaces_available() -> bool:
    return _probe() is None


def namespace_probe_error() -> str:
    return _probe() or "no error"
