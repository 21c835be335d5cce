"""A server a test starts on 127.0.0.1 as a child process: a free port, and waiting until it answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(
    url: str, process: subprocess.Popen, log: Path, name: str, timeout_s: float
) -> None:
    """Return once ``url`` answers 200; raise, with the log's tail, if ``process`` exits or never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:  # refused while starting; urllib's URLError is an OSError
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{name} not healthy after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
