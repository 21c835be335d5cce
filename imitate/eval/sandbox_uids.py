"""Jail uids: started as root, each jail runs under a uid no other running jail has.

RLIMIT_NPROC is counted per uid, so a jail's own uid makes its process quota its own: a fork bomb
fills its own quota, not that of the tests beside it, nor that of another evaluation running at
the same time in another host process.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading

# Each host process takes a block of uids of its own, held by an abstract unix socket (which the
# kernel releases when the process dies, however it dies; its name is per network namespace, so
# host processes in separate network namespaces must not share a uid space), and cycles through
# it: a jail's processes are all gone before its launcher returns, and a block outnumbers any
# pool of workers. A forked host process claims a block of its own.
_FIRST_JAIL_UID, _UIDS_PER_HOST, _HOST_BLOCKS = 1_010_000_000, 1 << 14, 1 << 12
_UID_BLOCK_LOCK = "imitate-sandbox-uid-block-{}"
_uid_block: tuple[socket.socket, range] | None = None
_uid_block_guard = threading.Lock()
_next_jail = itertools.count()


def _forget_block() -> None:
    global _uid_block, _uid_block_guard
    _uid_block, _uid_block_guard = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_block)


def jail_uid() -> int:
    """A uid for one jail: the next of this host process's block."""
    global _uid_block
    with _uid_block_guard:
        if _uid_block is None:
            _uid_block = _claim_uid_block()
        return _uid_block[1][next(_next_jail) % _UIDS_PER_HOST]


def _claim_uid_block() -> tuple[socket.socket, range]:
    for block in range(_HOST_BLOCKS):
        holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            holder.bind("\0" + _UID_BLOCK_LOCK.format(block))
        except OSError:  # another host process holds it
            holder.close()
            continue
        first = _FIRST_JAIL_UID + block * _UIDS_PER_HOST
        return holder, range(first, first + _UIDS_PER_HOST)
    raise RuntimeError(
        f"imitate.eval.sandbox: all {_HOST_BLOCKS} blocks of jail uids are held by other "
        "processes on this host; wait for some evaluations to finish"
    )
