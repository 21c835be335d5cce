"""Serve the app with uvicorn on a socket bound first (so port 0 works), or in a child process."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

READY = "imitate.rate serving on "  # the line a parent process waits for


def serve(app, host: str, port: int) -> None:
    """Bind ``host:port`` (0: any free port), print the URL, serve until interrupted."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections queue from now on, before uvicorn has started accepting
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"{READY}http://{shown_host}:{sock.getsockname()[1]}/", flush=True)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class Spawned:
    url: str
    process: subprocess.Popen


@contextmanager
def spawned(serve_args: list[str], timeout_s: float = 60.0) -> Iterator[Spawned]:
    """``python -m imitate.rate serve ARGS --port 0`` in a child; yields its URL, then stops it."""
    command = [sys.executable, "-m", "imitate.rate", "serve", *serve_args, "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True).start()
    try:
        yield Spawned(_wait_for_url(process, lines, timeout_s), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _drain(stream, lines: queue.Queue) -> None:
    for line in stream:  # keeps the pipe from filling; the first READY line is the URL
        lines.put(line)
    lines.put("")


def _wait_for_url(process: subprocess.Popen, lines: queue.Queue, timeout_s: float) -> str:
    try:
        while True:
            line = lines.get(timeout=timeout_s)
            if not line:
                raise RuntimeError(
                    f"imitate.rate serve exited with {process.wait()} before serving"
                )
            if line.startswith(READY):
                return line[len(READY) :].strip()
    except queue.Empty:
        raise TimeoutError(f"imitate.rate serve printed no URL within {timeout_s} s") from None
