"""A scripted OpenAI-compatible server on 127.0.0.1 for tests and benchmarks (stdlib only).

Replies echo the prompt ("echo: <prompt>", "#<n>" appended at temperature > 0 so samples differ).
`script` lists what the next requests get, one action each, then "ok" forever:
"ok", "429:<retry-after s>", "500", "slow:<s>", "drop" (close without answering),
"malformed" (200 with broken JSON), "no_choices" (200 with valid JSON but no choices),
"auth_echo_400" (400 quoting the Authorization header, as a careless server might),
"reply:<json>" (200 with exactly that body: a response of any shape).
Every arrival is recorded (`arrivals`: path, body, prompt or last user message, time, headers), and
`max_in_flight` is the most requests it was handling at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalHTTPServer:
    """A ThreadingHTTPServer on a free 127.0.0.1 port, served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The OpenAI-style /v1 base URL."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class LoopbackServer:
    """Start with `with LoopbackServer(...) as server:`; `server.url` is the /v1 base URL."""

    def __init__(
        self,
        script: Iterable[str] = (),
        latency_s: float = 0.0,
        completion: Callable[[dict], dict] | None = None,
    ) -> None:
        self.script = deque(script)
        self.latency_s = latency_s
        self.arrivals: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.completion = completion  # optional: builds /v1/completions replies (log-prob tests)
        self._lock = threading.Lock()
        self._http = LocalHTTPServer(_handler(self))

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def prompts(self) -> list[str]:
        with self._lock:
            return [arrival["prompt"] for arrival in self.arrivals]

    def __enter__(self) -> LoopbackServer:
        self._http.start()
        return self

    def __exit__(self, *exc) -> None:
        deadline = time.monotonic() + 10  # let handlers still working (a slow model) finish
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        self._http.stop()

    def _arrive(self, path: str, body: dict, headers: dict) -> tuple[str, int]:
        with self._lock:
            self.arrivals.append(
                {
                    "path": path,
                    "body": body,
                    "prompt": _prompt_of(body),
                    "headers": headers,
                    "time": time.monotonic(),
                }  # fmt: skip
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            action = self.script.popleft() if self.script else "ok"
            return action, len(self.arrivals)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def reply(body: dict, number: int) -> dict:
    """The echo completion for a request body (what the server answers with "ok")."""
    prompt = _prompt_of(body)
    text = f"echo: {prompt}" + (f" #{number}" if body.get("temperature", 0) > 0 else "")
    usage = {"prompt_tokens": len(prompt.split()) + 1, "completion_tokens": len(text.split())}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if "messages" in body:
        choice = {"index": 0, "message": {"role": "assistant", "content": text}}
        choice["finish_reason"] = "stop"
        return {
            "id": f"c{number}",
            "object": "chat.completion",
            "choices": [choice],
            "usage": usage,
        }
    choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
    return {"id": f"c{number}", "object": "text_completion", "choices": [choice], "usage": usage}


def _prompt_of(body: dict) -> str:
    if "messages" in body:
        return body["messages"][-1]["content"]
    return str(body.get("prompt", ""))


def _handler(server: LoopbackServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, as real servers do

        def log_message(self, *args) -> None:  # quiet: tests read the arrivals list instead
            pass

        def do_GET(self) -> None:
            # /stats: the arrival count, for a server running in another process (the benchmark)
            self._send(200, {"count": server.count})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {name.lower(): value for name, value in self.headers.items()}
            action, number = server._arrive(self.path, body, headers)
            try:
                self._answer(action, number, body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer
            finally:
                server._leave()

        def _answer(self, action: str, number: int, body: dict) -> None:
            if server.latency_s:
                time.sleep(server.latency_s)
            kind, _, argument = action.partition(":")
            if kind == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if kind == "slow":
                time.sleep(float(argument))
            if kind == "429":
                self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": argument})
            elif kind == "500":
                self._send(500, {"error": {"message": "boom"}})
            elif kind == "malformed":
                self._send_raw(200, b'{"choices": [ {"text": "cut off')
            elif kind == "reply":
                self._send_raw(200, argument.encode())
            elif kind == "no_choices":
                self._send(200, {"object": "text_completion"})
            elif kind == "auth_echo_400":
                auth = self.headers.get("authorization", "")
                self._send(400, {"error": {"message": f"bad request from {auth}"}})
            elif self.path.endswith("/completions") and "prompt" in body and server.completion:
                self._send(200, server.completion(body))
            else:
                self._send(200, reply(body, number))

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            self._send_raw(status, json.dumps(payload).encode(), headers)

        def _send_raw(self, status: int, data: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    """Serve in this process until killed; prints the base URL first (`--latency` seconds)."""
    import argparse

    parser = argparse.ArgumentParser(description="the loopback server, standalone")
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with LoopbackServer(latency_s=args.latency) as server:
        print(server.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
