"""Runs one side of a test (the untrusted program, or the checker) inside its own jail.

Started by `imitate.eval.sandbox` as a script.

Standalone on purpose (run with `python -I -S`): it must not import imitate or anything from
site-packages, so nothing the host environment injects reaches the setup code.

Steps: new namespaces (network, mount, pid, ipc, uts, and user when not root) -> a tmpfs root
(size- and inode-capped) holding only read-only binds of the interpreter and system libraries,
with the interpreter's site-packages masked, plus a private /sandbox -> fork the driver as pid 1
of its own pid namespace -> the inherited fds moved to 3, 4, ... and every other one closed ->
chroot, rlimits, drop privileges, a seccomp filter, exec the driver in its role.
The launcher waits outside the pid namespace and SIGKILLs pid 1 on the wall-clock deadline, or
when the host sends SIGTERM (the test is decided), which makes the kernel kill every process the
program started. It closes its own copies of the fds, so a dead side reads as end-of-file.
Exit status: the driver's (128 + signal when killed), 124 on timeout, 125 when setup failed.
"""

import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
ST_RELATIME = 4096
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 22, 38
EXIT_TIMEOUT, EXIT_SETUP_FAILED = 124, 125
FIRST_FD = 3  # the inherited fds become 3, 4, ... in the driver
SYSTEM_DIRS = ("usr", "bin", "lib", "lib64", "lib32", "libx32", "sbin")
DEVICES = ("null", "zero", "urandom", "random")
# The jail's tmpfs root: its files' bytes, and its inodes (~1.2 KiB of kernel slab each, which no
# rlimit counts), are capped here.
JAIL_TMPFS = "size=64m,nr_inodes=4096,mode=0755"
# Syscalls denied (EPERM) in the jail, per architecture (audit arch, numbers). Keyrings outlive
# the jail, per uid (add_key, request_key, keyctl); SysV IPC, POSIX message queues, memfds,
# io_uring, userfaultfd, perf and bpf hold kernel memory that no rlimit of ours counts. Python
# needs none of them. Calls of another ABI (i386 via int 0x80, x32) are all denied.
DENIED_SYSCALLS = {
    "x86_64": (0xC000003E, (29, 64, 68, 240, 248, 249, 250, 298, 319, 321, 323, 425, 447)),
    "aarch64": (0xC00000B7, (194, 190, 186, 180, 217, 218, 219, 241, 279, 280, 282, 425, 447)),
}
X32_SYSCALL_BIT = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)


def check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src, dst, fstype, flags, data=None) -> None:
    enc = [None if s is None else s.encode() for s in (src, dst, fstype, data)]
    check(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {dst}")


def bind_read_only(src: str, dst: str) -> None:
    mount(src, dst, None, MS_BIND | MS_REC)
    # A read-only remount must keep the flags the kernel locked on the source mount.
    f = os.statvfs(src).f_flag
    kept = f & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    kept |= MS_RELATIME if f & ST_RELATIME else 0
    mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | kept)


def enter_namespaces(as_root: bool) -> None:
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not as_root:
        uid, gid = os.getuid(), os.getgid()
        check(libc.unshare(flags | CLONE_NEWUSER), "unshare")
        # Map our own ids only: inside we keep our uid, so exec drops the namespace caps.
        for path, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{path}", "w") as f:
                f.write(text)
    else:
        check(libc.unshare(flags), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def build_jail(
    jail: str, python_prefix: str, hidden_dirs: list[str], owner: tuple[int, int]
) -> None:
    mount("tmpfs", jail, "tmpfs", MS_NOSUID | MS_NODEV, JAIL_TMPFS)
    for name in SYSTEM_DIRS:
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(jail, name))
        elif os.path.isdir(host):
            os.mkdir(os.path.join(jail, name))
            bind_read_only(host, os.path.join(jail, name))
    if not python_prefix.startswith("/usr/"):
        inside = jail + python_prefix
        os.makedirs(inside)
        bind_read_only(python_prefix, inside)
    for hidden in hidden_dirs:  # installed packages (and data files, e.g. a benchmark's) stay out
        if os.path.isdir(jail + hidden):
            mount("tmpfs", jail + hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k")
    os.mkdir(os.path.join(jail, "dev"))
    for name in DEVICES:
        open(os.path.join(jail, "dev", name), "w").close()
        mount("/dev/" + name, os.path.join(jail, "dev", name), None, MS_BIND)
    for name, mode in (("sandbox", 0o700), ("tmp", 0o700)):
        path = os.path.join(jail, name)
        os.mkdir(path, mode)
        os.chown(path, *owner)


def set_limits(cfg: dict) -> None:
    # The jail's uid is its own, so RLIMIT_NPROC bounds its processes and threads together; each
    # gets an equal share of the jail's memory, so their total stays within `memory_bytes`.
    limits = {
        resource.RLIMIT_CPU: cfg["cpu_s"],
        resource.RLIMIT_AS: cfg["memory_bytes"] // cfg["max_processes"],
        resource.RLIMIT_NPROC: cfg["max_processes"],
        resource.RLIMIT_FSIZE: cfg["max_output_bytes"],
        resource.RLIMIT_NOFILE: cfg["max_open_files"],
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_MEMLOCK: 0,
        resource.RLIMIT_MSGQUEUE: 0,
        resource.RLIMIT_SIGPENDING: 64,
    }
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


def deny_syscalls() -> None:
    """Install the seccomp filter: DENIED_SYSCALLS and foreign ABIs fail with EPERM."""
    machine = os.uname().machine
    if machine not in DENIED_SYSCALLS:
        raise OSError(f"no seccomp filter for {machine} (known: {', '.join(DENIED_SYSCALLS)})")
    audit_arch, numbers = DENIED_SYSCALLS[machine]
    load_word, jump_eq, jump_ge, ret = 0x20, 0x15, 0x35, 0x06
    deny, allow = 0x00050000 | 1, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
    n = len(numbers)
    # seccomp_data: nr at offset 0, arch at 4. Jumps count instructions skipped.
    program = [(load_word, 0, 0, 4), (jump_eq, 0, n + 3, audit_arch), (load_word, 0, 0, 0)]
    program.append((jump_ge, n + 1, 0, X32_SYSCALL_BIT))
    program += [(jump_eq, n - i, 0, nr) for i, nr in enumerate(numbers)]
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny)]

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte)]
        _fields_ += [("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    instructions = (Instruction * len(program))(*(Instruction(*i) for i in program))
    fprog = Program(len(program), instructions)
    check(libc.prctl(PR_SET_SECCOMP, 2, ctypes.byref(fprog), 0, 0), "prctl(SECCOMP)")


def move_fds(inherited: list[int]) -> None:
    """fd i of `inherited` becomes FIRST_FD + i; every other fd above stderr is closed."""
    # Park them high first, so moving one never overwrites another that is still to move.
    parked = [fcntl.fcntl(fd, fcntl.F_DUPFD, 1000) for fd in inherited]
    for target, fd in enumerate(parked, start=FIRST_FD):
        os.dup2(fd, target)
    os.closerange(FIRST_FD + len(parked), 1 << 16)


def become_driver(cfg: dict, driver: str) -> None:
    """In the forked child: confine, then exec the interpreter on the driver. Never returns."""
    signal.set_wakeup_fd(-1)  # the stop pipe is the launcher's; its number may be reused below
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setsid()  # own process group, so kill(0, ...) from the program stays inside the jail
    move_fds(cfg["fds"])
    if cfg["isolated"]:
        os.chroot(cfg["jail"])
        os.chdir("/sandbox")
    else:
        os.chdir(cfg["workdir"])
    set_limits(cfg)
    if cfg["uid"] is not None:
        os.setgroups([])
        os.setgid(cfg["gid"])
        os.setuid(cfg["uid"])
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    if cfg["isolated"]:
        deny_syscalls()
    home = "/sandbox" if cfg["isolated"] else cfg["workdir"]
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}
    # One malloc arena: each extra one reserves 64 MiB of address space, the per-process budget.
    env["MALLOC_ARENA_MAX"] = "1"
    os.execve(cfg["python"], [cfg["python"], "-I", "-S", "-B", "-c", driver, cfg["role"]], env)


def listen_for_stop() -> int:
    """An fd that turns readable once SIGTERM arrives, however early: the wakeup fd keeps it."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.set_wakeup_fd(write)
    return read


def wait_with_deadline(pid: int, wall_s: float, stop_fd: int) -> int:
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd, stop_fd], [], [], wall_s)
    if stop_fd in ready and pidfd not in ready:  # the host decided the test: end it now
        os.kill(pid, signal.SIGKILL)
        ready = [pidfd]
    if not ready:
        # pid 1 of its namespace: its death takes every descendant with it. Without the
        # namespace (opted out) the process group is the best we can do.
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return EXIT_TIMEOUT
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main() -> int:
    cfg = json.loads(sys.argv[1])
    with open(cfg["driver_path"]) as f:
        driver = f.read()
    stop_fd = listen_for_stop()
    try:
        if cfg["isolated"]:
            as_root = os.geteuid() == 0
            enter_namespaces(as_root)
            owner = (
                (cfg["uid"], cfg["gid"]) if cfg["uid"] is not None else (os.getuid(), os.getgid())
            )
            build_jail(cfg["jail"], cfg["python_prefix"], cfg["hidden_dirs"], owner)
        pid = os.fork()
    except OSError as e:
        os.write(2, f"imitate sandbox setup failed: {e}\n".encode())
        return EXIT_SETUP_FAILED
    if pid == 0:
        try:
            become_driver(cfg, driver)
        except BaseException as e:  # noqa: BLE001 - report anything, then leave without cleanup
            os.write(2, f"imitate sandbox setup failed: {e!r}\n".encode())
        os._exit(EXIT_SETUP_FAILED)
    for fd in cfg["fds"]:
        os.close(fd)
    return wait_with_deadline(pid, cfg["wall_s"], stop_fd)


if __name__ == "__main__":
    sys.exit(main())
