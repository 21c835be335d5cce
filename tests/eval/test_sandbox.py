"""Attacks on the sandbox: each must be contained, leave the host untouched, and be marked failed."""

import contextlib
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from imitate.eval import sandbox as sandbox_module
from imitate.eval.sandbox import (
    Sandbox,
    SandboxLimits,
    SandboxUnavailable,
    Submission,
    namespaces_available,
)
from tests.eval.jails import (
    CHECK,
    RIGHT,
    WRONG,
    jailed_observation,
    leftover_jailed_processes,
    needs_namespaces,
)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    if not namespaces_available():
        pytest.skip("this OS refuses namespaces")
    return Sandbox(SandboxLimits(wall_s=3.0, cpu_s=3, max_output_bytes=1 << 16))


def assert_contained(sandbox: Sandbox, attack: str, tests: str = CHECK) -> None:
    """The attack runs first, then a wrong `f` is defined: whatever it did, the test must fail."""
    result = sandbox.run(Submission(f"{attack}\n{WRONG}", tests, "f"))
    assert not result.passed, result
    assert result.status in ("failed", "timeout"), result
    assert leftover_jailed_processes() == []


@needs_namespaces
def test_a_right_program_passes_and_its_output_is_captured(sandbox):
    result = sandbox.run(Submission(f"print('hello')\n{RIGHT}", CHECK, "f"))
    assert result.passed and result.stdout == "hello\n", result
    assert result.check_log.startswith("passed after 2 calls")


@needs_namespaces
def test_a_wrong_program_fails_with_the_failing_assertion(sandbox):
    result = sandbox.run(Submission(WRONG, CHECK, "f"))
    assert not result.passed and result.status == "failed"
    assert "AssertionError" in result.check_log and "<tests>" in result.check_log


@needs_namespaces
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
        pytest.param("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", id="kill-parent"),
        pytest.param("import os, signal\nos.kill(-1, signal.SIGKILL)", id="kill-everything"),
        pytest.param(
            "import sys\nsys.setrecursionlimit(10**7)\ndef g(n):\n    return g(n + 1)\ng(0)",
            id="deep-recursion",
        ),
        pytest.param(
            "import atexit, builtins, os, sys\n"
            "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
            "sys.excepthook = lambda *a: None\n"
            "atexit.register(os._exit, 0)\n"
            "print('passed')",
            id="patch-assert-and-exit-hooks",
        ),
    ],
)
def test_attack_is_contained_and_fails(sandbox, program):
    assert_contained(sandbox, program)


# Each tries to make a wrong answer pass by reaching what decides the verdict. Token theft, the
# caller's bytecode and the objects that claim equality all forged a pass when the tests ran in
# the program's own process (the verdict was a token its driver held).
STEAL_TOKEN_AND_CLAIM_SUCCESS = """
import gc, os, string, sys
def _strings():
    frame = sys._getframe()
    while frame is not None:  # every frame up to the driver's, with its locals and globals
        for scope in (frame.f_locals, frame.f_globals):
            yield from (v for v in scope.values() if isinstance(v, str))
        frame = frame.f_back
    for obj in gc.get_objects():  # every string held by any container on the heap
        values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()
        yield from (v for v in values if isinstance(v, str))
tokens = [s for s in dict.fromkeys(_strings()) if len(s) == 32 and set(s) <= set(string.hexdigits)]
# The nearest frame's token last, so it ends the verdict; plain claims for any other scheme.
claims = ["passed", "passed after 2 calls"] + [f"{t} passed" for t in reversed(tokens)]
for fd in range(3, 64):
    try:
        os.write(fd, "\\n".join(claims).encode())
    except OSError:
        pass
os._exit(0)
"""
REWRITE_THE_DRIVER = """
import gc, types
always_yes = (lambda *args, **kwargs: {"value": True}).__code__
for obj in gc.get_objects():  # the driver's own functions: make every answer claim success
    if isinstance(obj, types.FunctionType) and obj.__code__.co_filename == "<string>":
        if obj.__name__ in ("answer", "decode", "encode"):
            obj.__code__ = always_yes.replace(co_name=obj.__name__)
"""
# The expected answer sits in the caller's bytecode, right after the call: `candidate(2) == 4`.
READ_THE_ANSWER_FROM_THE_CALLERS_CODE = """
import dis, sys
def f(x):
    caller = sys._getframe(1)
    after = [i for i in dis.get_instructions(caller.f_code) if i.offset > caller.f_lasti]
    return next(i.argval for i in after if i.opname == "LOAD_CONST")
"""
REDEFINE_CHECK_EVERYWHERE = """
import builtins, gc, types
builtins.check = lambda candidate: None
def check(candidate):
    return None
for obj in gc.get_objects():
    if isinstance(obj, dict) and "check" in obj:
        obj["check"] = check
"""
FORGERIES = {
    "frames-and-heap-token-theft": STEAL_TOKEN_AND_CLAIM_SUCCESS,
    "reads-the-expected-answer-from-the-callers-code-object": READ_THE_ANSWER_FROM_THE_CALLERS_CODE,
    "rewrites-the-drivers-code-objects": REWRITE_THE_DRIVER,
    "redefines-check-everywhere": REDEFINE_CHECK_EVERYWHERE,
    "fake-success-markers": (
        "import os, sys\nprint('passed')\nsys.stderr.write('passed\\n')\n"
        "os.write(1, b'passed after 2 calls\\n')\nos.write(2, b'passed\\n')"
    ),
    "garbage-on-the-answer-pipe": (
        'import os\nos.write(4, b\'\\xff\\xfe not json\\n{"value": {"t": "eval", "v": 1}}\\n\')'
    ),
    "exits-0-inside-the-call": "import os\ndef f(x):\n    os._exit(0)",
    "raises-system-exit-0-inside-the-call": "def f(x):\n    raise SystemExit(0)",
    "kills-every-process-it-sees-inside-the-call": (
        "import os, signal\ndef f(x):\n    os.kill(-1, signal.SIGKILL)"
    ),
    "returns-an-object-equal-to-everything": (
        "class Yes:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Yes()"
    ),
    "returns-an-int-that-claims-equality": (
        "class Int(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def f(x):\n    return Int(0)"
    ),
}


@needs_namespaces
@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_wrong_answer_cannot_forge_a_pass(sandbox, forgery):
    # The forgery's own `f` (if it defines one) comes after the wrong one, so it is what is called.
    result = sandbox.run(Submission(f"{WRONG}\n{forgery}", CHECK, "f"))
    assert not result.passed, result
    assert leftover_jailed_processes() == []


@needs_namespaces
def test_a_dead_program_fails_even_when_the_tests_swallow_every_exception(sandbox):
    swallowing = "def check(candidate):\n    try:\n        candidate(2)\n    except BaseException:\n        pass\n"
    assert not sandbox.run(Submission("import os\nos._exit(0)", swallowing, "f")).passed
    # An exception the program raises is its answer: a test that expects it may catch it.
    catching = "def check(candidate):\n    try:\n        candidate(2)\n    except Exception:\n        pass\n"
    assert sandbox.run(Submission("def f(x):\n    raise ValueError(x)", catching, "f")).passed


@needs_namespaces
def test_an_answer_over_the_size_limit_fails(sandbox):
    tests = "def check(candidate):\n    assert candidate(2) is not None\n"
    result = sandbox.run(Submission("def f(x):\n    return 'x' * (1 << 17)", tests, "f"))
    assert not result.passed and "size limit" in result.check_log


ANSWERS = [
    None,
    True,
    0,
    10**40,
    -0.0,
    1.5,
    "text",
    [1, (2, 3)],
    (1, [2]),
    {(1, 2): {"a": {3}}},
    frozenset({1}),
    b"\x00\xff",
]


@needs_namespaces
@pytest.mark.parametrize("value", ANSWERS, ids=[type(v).__name__ for v in ANSWERS])
def test_answers_reach_the_tests_as_exactly_the_builtin_value(sandbox, value):
    program = f"def f():\n    return {value!r}\n"
    tests = (
        f"def check(candidate):\n    got = candidate()\n"
        f"    assert got == {value!r} and type(got) is type({value!r})\n"
    )
    assert sandbox.run(Submission(program, tests, "f")).passed


@needs_namespaces
def test_an_answer_of_another_type_is_another_answer(sandbox):
    tests = "def check(candidate):\n    assert candidate() == (1, 2)\n"
    assert sandbox.run(Submission("def f():\n    return (1, 2)\n", tests, "f")).passed
    assert not sandbox.run(Submission("def f():\n    return [1, 2]\n", tests, "f")).passed


@needs_namespaces
def test_a_generator_answer_can_be_consumed_by_the_tests(sandbox):
    program = "def f(n):\n    return (i * i for i in range(n))\n"
    tests = "def check(candidate):\n    assert list(candidate(3)) == [0, 1, 4]\n"
    assert sandbox.run(Submission(program, tests, "f")).passed


@needs_namespaces
def test_the_program_sees_no_process_but_its_own(sandbox):
    alive = "[p for p in range(1, 2000) if _alive(p)]"
    setup = (
        "import os\ndef _alive(pid):\n    try:\n        os.kill(pid, 0)\n        return True\n"
        "    except OSError:\n        return False"
    )
    assert jailed_observation(sandbox, alive, setup) == [1]  # itself, pid 1 of its namespace
    assert jailed_observation(sandbox, "os.path.exists('/proc')", "import os") is False


@needs_namespaces
def test_a_program_that_lingers_after_answering_is_ended_once_the_verdict_is_in(sandbox):
    lingering = (
        "import threading, time, json, os\n"
        f"{RIGHT}"
        "def serve():\n"  # answer from a thread, while the main thread never returns
        "    calls = os.fdopen(3, 'rb')\n"
        "    for line in calls:\n"
        "        x = json.loads(line)['args'][0]\n"
        "        os.write(4, (json.dumps({'value': 2 * x}) + '\\n').encode())\n"
        "threading.Thread(target=serve).start()\n"
        "while True:\n    time.sleep(1)\n"
    )
    start = time.monotonic()
    result = sandbox.run(Submission(lingering, CHECK, "f"))
    assert result.passed, result
    assert time.monotonic() - start < sandbox.limits.wall_s
    assert leftover_jailed_processes() == []


@needs_namespaces
def test_huge_output_is_capped(sandbox):
    result = sandbox.run(Submission(f"while True:\n    print('x' * 10000)\n{RIGHT}", CHECK, "f"))
    assert not result.passed and len(result.stdout) <= sandbox.limits.max_output_bytes


@needs_namespaces
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


@needs_namespaces
def test_shelling_out_through_ctypes_or_posix_cannot_reach_the_host(sandbox, tmp_path):
    for how, planted in (("ctypes.CDLL(None).system", "ctypes"), ("posix.system", "posix")):
        target = tmp_path / planted
        cmd = f"touch {target}".encode()
        assert_contained(sandbox, f"import ctypes, posix\n{how}({cmd!r})")
        assert not target.exists()


@needs_namespaces
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
        names = "[n for _, n in socket.if_nameindex()]"
        assert jailed_observation(sandbox, names, "import socket") == ["lo"]
    finally:
        server.close()
    assert accepted == []


def _accept_once(server: socket.socket, accepted: list) -> None:
    with contextlib.suppress(OSError):  # timed out or closed: nobody connected
        accepted.append(server.accept())


@needs_namespaces
def test_env_secrets_and_home_files_are_invisible(sandbox, monkeypatch):
    monkeypatch.setenv("IMITATE_TEST_SECRET", "s3cret")
    seen = "os.environ.get('IMITATE_TEST_SECRET')"
    assert jailed_observation(sandbox, seen, "import os") is None
    secret = Path.home() / f".imitate-sandbox-test-{uuid.uuid4().hex}"
    secret.write_text("s3cret")
    try:
        assert jailed_observation(sandbox, f"os.path.exists({str(secret)!r})", "import os") is False
        listed = f"{secret.name!r} in os.listdir(os.path.expanduser('~'))"
        assert jailed_observation(sandbox, listed, "import os") is False
    finally:
        secret.unlink()


@needs_namespaces
def test_killing_the_host_by_pid_is_impossible(sandbox):
    assert_contained(sandbox, f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)")


def test_refuses_without_namespaces_unless_opted_out(monkeypatch):
    # Runs on every host: the missing namespaces are simulated, the opted-out runs are real.
    monkeypatch.setattr(sandbox_module, "_probe", lambda: "unshare: Operation not permitted")
    with pytest.raises(SandboxUnavailable, match="Operation not permitted.*allow_unisolated"):
        Sandbox()
    unisolated = Sandbox(SandboxLimits(wall_s=3.0), allow_unisolated=True)
    assert not unisolated.isolated
    assert unisolated.run(Submission(RIGHT, CHECK, "f")).passed
    assert not unisolated.run(Submission(WRONG, CHECK, "f")).passed
    assert not unisolated.run(Submission(f"import os\nos._exit(0)\n{RIGHT}", CHECK, "f")).passed


def test_the_probe_reports_why_the_jail_could_not_be_built(monkeypatch, tmp_path):
    # A jail folder that does not exist makes the launcher's setup fail on any host.
    missing = str(tmp_path / "no-such-folder")
    monkeypatch.setattr(sandbox_module.tempfile, "TemporaryDirectory", _nonexistent(missing))
    error = sandbox_module._probe_once()
    assert error is not None and "imitate sandbox setup failed" in error


def _nonexistent(path: str):
    @contextlib.contextmanager
    def folder(**kwargs):
        yield path

    return folder


@needs_namespaces
def test_tests_run_in_parallel(sandbox):
    submissions = [Submission(RIGHT, CHECK, "f")] * 8 + [Submission(WRONG, CHECK, "f")]
    results = sandbox.run_many(submissions)
    assert [r.passed for r in results] == [True] * 8 + [False]


@needs_namespaces
def test_a_fork_bomb_does_not_starve_the_tests_running_beside_it():
    sandbox = Sandbox(SandboxLimits(wall_s=3.0, cpu_s=3), workers=2)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    submissions = [Submission(bomb, CHECK, "f")] + [Submission(RIGHT, CHECK, "f")] * 6
    results = sandbox.run_many(submissions)
    assert [r.passed for r in results] == [False] + [True] * 6, [r.check_log for r in results]
