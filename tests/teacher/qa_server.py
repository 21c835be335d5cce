"""An OpenAI-compatible chat server on 127.0.0.1 whose teacher writes QA pairs, counting every request.

Replies are `scripted.qa_reply` of the request's messages, so an in-process ScriptedLLM gives the
same dataset. It counts arrivals and *answers* (replies written in full) per request body, and bills
each answer its `usage` at `PRICES` (`billed_usd`): what a paid endpoint charges for. `hold_after(n)` stops answering from the n-th arrival on (those requests
wait) and sets `holding`, so a test can kill the client at a point where every reply it was sent
has had time to reach its cache.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler

from imitate.llm.base import GenerationRequest, stable_hash
from tests.llm.loopback import LocalHTTPServer
from tests.teacher.scripted import qa_reply

# $1 per input token, $2 per output token (llm.price_per_1m_*_usd): bills are whole dollars, exact
PRICES = {"price_per_1m_input_usd": 1_000_000, "price_per_1m_output_usd": 2_000_000}


def bill(usage: dict) -> float:
    """What an answer with this `usage` costs at PRICES."""
    return (
        usage["prompt_tokens"] * PRICES["price_per_1m_input_usd"]
        + usage["completion_tokens"] * PRICES["price_per_1m_output_usd"]
    ) / 1_000_000


def body_key(body: dict) -> str:
    """A request's identity at the server: everything the client sent."""
    return stable_hash(body)


class QAServer:
    """`with QAServer() as server:`; `server.url` is the /v1 base URL."""

    def __init__(self) -> None:
        self.arrivals: Counter = Counter()
        self.answers: Counter = Counter()
        self.held = 0  # arrivals never answered (their client was killed while they waited)
        self.billed_usd = 0.0
        self.authorizations: set[str] = set()  # Authorization headers seen
        self.holding = threading.Event()
        self._release = threading.Event()
        self._hold_from: int | None = None
        self._lock = threading.Lock()
        self._http = LocalHTTPServer(_handler(self))

    @property
    def url(self) -> str:
        return self._http.url

    def hold_after(self, arrivals: int) -> None:
        """From arrival number `arrivals` (1-based, counted from now on) on, answer nothing."""
        with self._lock:
            self._hold_from = sum(self.arrivals.values()) + arrivals
            self.holding.clear()
            self._release.clear()

    def release(self) -> None:
        """Let held requests go (their client is gone: their replies cannot be delivered)."""
        with self._lock:
            self._hold_from = None
        self._release.set()

    def __enter__(self) -> QAServer:
        self._http.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self._http.stop()

    def _arrive(self, key: str) -> bool:
        """Count the arrival; True when this request must be held."""
        with self._lock:
            self.arrivals[key] += 1
            held = self._hold_from is not None and sum(self.arrivals.values()) >= self._hold_from
            self.held += held
        if held:
            self.holding.set()
        return held


def chat_reply(body: dict) -> dict:
    messages = tuple({"role": m["role"], "content": m["content"]} for m in body["messages"])
    text = qa_reply(GenerationRequest(messages=messages))
    usage = {"prompt_tokens": 50, "completion_tokens": len(text.split()), "total_tokens": 0}
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {"id": "qa", "object": "chat.completion", "choices": [choice], "usage": usage}


def _handler(server: QAServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # the counters are the record
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            key = body_key(body)
            server.authorizations.add(self.headers.get("authorization", ""))
            if server._arrive(key):
                server._release.wait(timeout=60)
                self.close_connection = True
                return  # never answered: nothing to pay for
            reply = chat_reply(body)
            data = json.dumps(reply).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            with server._lock:
                server.answers[key] += 1
                server.billed_usd += bill(reply["usage"])

    return Handler
