"""Attacks on the sandbox: each must be contained, leave the host untouched, and be marked failed."""

import contextlib
import os
import socket
import threading
import uuid
from pathlib import Path

import pytest

from imitate.eval import sandbox as sandbox_module
from imitate.eval.sandbox import Sandbox, SandboxLimits, SandboxUnavailable, namespaces_available

pytestmark = pytest.mark.skipif(
    not namespaces_available(), reason="this OS refuses namespaces; the refusal is tested below"
)
DRIVER_MARK = "Runs inside the jail as"  # from the driver's docstring, on every jailed cmdline


def leftover_jailed_processes() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and DRIVER_MARK in (entry / "cmdline").read_text():
                pids.append(int(entry.name))
        except OSError:
            continue  # it exited while we looked
    return pids


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(SandboxLimits(wall_s=3.0, cpu_s=3, max_output_bytes=1 << 16))


def assert_contained(sandbox: Sandbox, program: str) -> None:
    result = sandbox.run(program)
    assert not result.passed, result
    assert result.status in ("failed", "timeout"), result
    assert leftover_jailed_processes() == []


def test_a_plain_program_passes_and_its_output_is_captured(sandbox):
    result = sandbox.run("print('hello')")
    assert result.passed and result.stdout == "hello\n"


@pytest.mark.parametrize(
    "program",
    [
        pytest.param("while True:\n    pass", id="infinite-loop"),
        pytest.param(
            "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nsignal.alarm(0)\n"
            "while True:\n    pass",
            id="loop-with-alarm-disabled",
        ),
        pytest.param(
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
            id="os-fork-bomb",
        ),
        pytest.param(
            "import multiprocessing as mp\n"
            "def spin():\n    while True:\n        pass\n"
            "procs = [mp.Process(target=spin) for _ in range(200)]\n"
            "for p in procs:\n    p.start()\n"
            "spin()",
            id="multiprocessing-fork-bomb",
        ),
        pytest.param("x = bytearray(1 << 36)", id="memory-bomb-one-block"),
        pytest.param("a = []\nwhile True:\n    a.append(' ' * 10**7)", id="memory-bomb-growing"),
        pytest.param("while True:\n    print('x' * 10000)", id="huge-output"),
        pytest.param("import os\nos._exit(0)", id="os-exit-0"),
        pytest.param("import sys\nsys.exit(0)", id="sys-exit-0"),
        pytest.param("raise SystemExit", id="raise-system-exit"),
        # A wrong answer that first attacks the harness must still count as wrong.
        pytest.param(
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nassert False, 'wrong'",
            id="kill-parent",
        ),
        pytest.param(
            "import os, signal\nos.kill(-1, signal.SIGKILL)\nassert False, 'wrong'",
            id="kill-everything",
        ),
        pytest.param(
            "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)",
            id="deep-recursion",
        ),
        pytest.param(
            "import atexit, builtins, os, sys\n"
            "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
            "sys.excepthook = lambda *a: None\n"
            "atexit.register(os._exit, 0)\n"
            "print('passed')\n"
            "assert 1 == 2",
            id="patch-assert-and-exit-hooks",
        ),
    ],
)
def test_attack_is_contained_and_fails(sandbox, program):
    assert_contained(sandbox, program)


def test_huge_output_is_capped(sandbox):
    result = sandbox.run("while True:\n    print('x' * 10000)")
    assert not result.passed and len(result.stdout) <= sandbox.limits.max_output_bytes


def test_files_outside_the_jail_can_be_neither_deleted_nor_written(sandbox, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    planted = tmp_path / "planted.txt"
    assert_contained(sandbox, f"import os\nos.remove({str(victim)!r})")
    assert_contained(sandbox, f"import shutil\nshutil.rmtree({str(tmp_path)!r})")
    assert_contained(sandbox, f"open({str(planted)!r}, 'w').write('pwned')")
    assert_contained(sandbox, "open('/usr/bin/pwned', 'w').write('pwned')")
    assert victim.read_text() == "keep me"
    assert not planted.exists() and not Path("/usr/bin/pwned").exists()


def test_shelling_out_through_ctypes_or_posix_cannot_reach_the_host(sandbox, tmp_path):
    for how, planted in (("ctypes.CDLL(None).system", "ctypes"), ("posix.system", "posix")):
        target = tmp_path / planted
        cmd = f"touch {target}".encode()
        assert_contained(sandbox, f"import ctypes, posix\nassert {how}({cmd!r}) == 0")
        assert not target.exists()


def test_network_is_unreachable_and_only_loopback_exists(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))  # the host's loopback only; no traffic leaves this machine
    server.listen()
    server.settimeout(5.0)
    accepted = []
    threading.Thread(target=lambda: _accept_once(server, accepted), daemon=True).start()
    port = server.getsockname()[1]
    try:
        assert_contained(
            sandbox,
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hi')",
        )
        probe = "import socket\nassert [n for _, n in socket.if_nameindex()] == ['lo'], socket.if_nameindex()"
        assert sandbox.run(probe).passed
    finally:
        server.close()
    assert accepted == []


def _accept_once(server: socket.socket, accepted: list) -> None:
    with contextlib.suppress(OSError):  # timed out or closed: nobody connected
        accepted.append(server.accept())


def test_env_secrets_and_home_files_are_invisible(sandbox, monkeypatch):
    monkeypatch.setenv("IMITATE_TEST_SECRET", "s3cret")
    assert_contained(sandbox, "import os\nassert os.environ.get('IMITATE_TEST_SECRET') == 's3cret'")
    secret = Path.home() / f".imitate-sandbox-test-{uuid.uuid4().hex}"
    secret.write_text("s3cret")
    try:
        assert_contained(sandbox, f"assert open({str(secret)!r}).read() == 's3cret'")
        assert_contained(
            sandbox, f"import os\nassert {secret.name!r} in os.listdir(os.path.expanduser('~'))"
        )
    finally:
        secret.unlink()


def test_killing_the_host_by_pid_is_impossible(sandbox):
    assert_contained(sandbox, f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)")


def test_refuses_without_namespaces_unless_opted_out(monkeypatch):
    monkeypatch.setattr(sandbox_module, "_probe", lambda: "unshare: Operation not permitted")
    with pytest.raises(SandboxUnavailable, match="allow_unisolated"):
        Sandbox()
    unisolated = Sandbox(SandboxLimits(wall_s=3.0), allow_unisolated=True)
    assert not unisolated.isolated
    assert unisolated.run("assert 1 + 1 == 2").passed
    assert not unisolated.run("import os\nos._exit(0)").passed


def test_programs_run_in_parallel(sandbox):
    results = sandbox.run_many([f"assert {i} * 2 == {2 * i}" for i in range(8)] + ["assert False"])
    assert [r.passed for r in results] == [True] * 8 + [False]
