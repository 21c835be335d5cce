"""Limits per jail: memory and processes for the jail as a whole, no kernel state that outlives it."""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from imitate.eval import sandbox_uids
from imitate.eval.sandbox import Sandbox, SandboxLimits, Submission
from tests.conftest import REPO
from tests.eval.jails import (
    CHECK,
    RIGHT,
    jailed_observation,
    leftover_jailed_processes,
    needs_namespaces,
)

MIB = 1 << 20
# Each process of the jail tries to hold all the memory it can, in touched 4 MiB blocks.
FAN_OUT = """
import os, time
def hold():
    blocks = []
    try:
        while True:
            block = bytearray(4 << 20)
            block[::4096] = b"x" * len(block[::4096])
            blocks.append(block)
    except MemoryError:
        return blocks
report_read, report_write = os.pipe()
children = 0
for _ in range(12):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        held = hold()
        os.write(report_write, b"%d\\n" % len(held))
        time.sleep(60)  # keep holding: the jail's end kills us
    children += 1
os.close(report_write)
mine = hold()
theirs = os.read(report_read, 4096).decode().split()
while len(theirs) < children:
    theirs += os.read(report_read, 4096).decode().split()
print(children, 4 * (len(mine) + sum(map(int, theirs))))
"""


@needs_namespaces
def test_a_jail_fanning_out_holds_no_more_than_its_memory_limit():
    limits = SandboxLimits(wall_s=10.0, cpu_s=10, memory_bytes=256 * MIB, max_processes=4)
    result = Sandbox(limits).run(Submission(FAN_OUT + RIGHT, CHECK, "f"))
    assert result.passed, result
    children, held_mib = map(int, result.stdout.split())
    # 4 tasks of the jail's uid: the driver and 3 children; each may map 64 MiB, the
    # interpreter's own mappings included, so together they hold less than the 256 MiB.
    assert children == 3
    assert 128 < held_mib < 256, held_mib
    assert leftover_jailed_processes() == []


KEYCTL = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
SYSCALLS = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
def result(ret):
    return [ret, os.strerror(ctypes.get_errno()) if ret < 0 else ""]
"""
LEAVE_A_KEY = (  # add_key("user", ..., KEY_SPEC_USER_KEYRING): the uid's own keyring
    KEYCTL + 'print(result(libc.syscall(SYSCALLS[0], b"user", b"imitate-left-behind",'
    ' b"secret", 6, ctypes.c_int(-4))))\n'
)
LOOK_FOR_IT = (  # keyctl(KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", ..., 0)
    KEYCTL + "print(result(libc.syscall(SYSCALLS[1], 10, ctypes.c_int(-4), b'user',"
    " b'imitate-left-behind', 0)))\n"
)


@needs_namespaces
def test_a_key_left_by_one_jail_is_not_found_by_the_next_with_the_same_uid(monkeypatch):
    uid = 1_000_000_000 + (1 << 28)  # outside every host's block of jail uids
    monkeypatch.setattr(sandbox_uids, "jail_uid", lambda: uid)
    sandbox = Sandbox(SandboxLimits(wall_s=5.0, cpu_s=5))
    left = sandbox.run(Submission(LEAVE_A_KEY + RIGHT, CHECK, "f"))
    looked = sandbox.run(Submission(LOOK_FOR_IT + RIGHT, CHECK, "f"))
    assert left.passed and looked.passed, (left, looked)
    assert left.stdout == "[-1, 'Operation not permitted']\n"  # keyrings are off limits
    assert looked.stdout == "[-1, 'Operation not permitted']\n"
    if os.geteuid() == 0:  # the kernel keeps no keys of the jail's uid (root alone gives it one)
        assert f"{uid}:" not in Path("/proc/key-users").read_text()


@needs_namespaces
@pytest.mark.parametrize(
    "call",
    [
        "os.memfd_create('x')",
        "ctypes.CDLL(None, use_errno=True).shmget(0, 4096, 0o1000) == -1 and ctypes.get_errno()",
    ],
    ids=["memfd", "sysv-shm"],
)
def test_kernel_memory_no_rlimit_counts_is_denied(call):
    sandbox = Sandbox(SandboxLimits(wall_s=5.0, cpu_s=5))
    setup = (
        "import ctypes, os\ndef attempt(f):\n    try:\n        return f()\n"
        "    except OSError as e:\n        return e.errno"
    )
    assert jailed_observation(sandbox, f"attempt(lambda: {call})", setup) == 1  # EPERM


@needs_namespaces
def test_files_in_the_jail_are_capped_in_number():
    flood = (
        "n = 0\ntry:\n    while True:\n        open(f'/tmp/{n}', 'w').close()\n        n += 1\n"
        "except OSError:\n    pass"
    )
    sandbox = Sandbox(SandboxLimits(wall_s=10.0, cpu_s=10))
    created = jailed_observation(sandbox, "n", flood)
    assert 4000 < created < 4096  # nr_inodes=4096, less the jail's own folders and devices


HOLD_THE_QUOTA = (
    "import os, time\nwhile True:\n    try:\n        if os.fork() == 0:\n"
    "            time.sleep(60)\n    except OSError:\n        break\ntime.sleep(60)\n" + RIGHT
)
THREADED = (
    "import threading\ndef f(x):\n    out = []\n"
    "    workers = [threading.Thread(target=lambda: out.append(2 * x)) for _ in range(3)]\n"
    "    for w in workers:\n        w.start()\n    for w in workers:\n        w.join()\n"
    "    return out[0]\n"
)
HOST = """
import sys
from imitate.eval.sandbox import Sandbox, SandboxLimits, Submission
CHECK, program, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = Sandbox(SandboxLimits(wall_s=12.0, cpu_s=5), workers=1).run_many(
    [Submission(program, CHECK, "f")] * runs
)
print(" ".join(r.status for r in results))
"""


def jailed_processes_per_uid() -> Counter:
    counts: Counter = Counter()
    for pid in leftover_jailed_processes():
        try:
            counts[os.stat(f"/proc/{pid}").st_uid] += 1
        except OSError:
            continue
    return counts


def start_host(program: str, runs: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", HOST, CHECK, program, str(runs)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)


@needs_namespaces
@pytest.mark.skipif(os.geteuid() != 0, reason="jails get uids of their own only when run as root")
def test_two_host_processes_do_not_share_a_process_quota():
    holder = start_host(HOLD_THE_QUOTA, 1)
    deadline = time.monotonic() + 10
    quota = SandboxLimits().max_processes
    while max(jailed_processes_per_uid().values(), default=0) < quota:
        assert time.monotonic() < deadline, "the holder never filled its quota"
        time.sleep(0.1)
    honest = start_host(THREADED, 4)
    honest_out, _ = honest.communicate(timeout=60)
    still_held = max(jailed_processes_per_uid().values(), default=0) >= quota
    holder_out, _ = holder.communicate(timeout=60)
    assert still_held  # the honest runs were all done while the holder held its quota
    assert honest_out.split() == ["passed"] * 4
    assert holder_out.split() == ["timeout"]
