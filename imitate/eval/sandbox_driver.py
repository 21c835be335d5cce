"""Runs inside the jail as `python -I -S -c <this file's text>`: executes one program, reports.

stdin holds a per-run nonce line, then the program. The verdict goes to fd 3 and counts only
when it carries the nonce, which the program never sees in its source: a program that exits
early (`sys.exit(0)`, `os._exit(0)`, an atexit hook) or dies never writes it, so it fails.
Code written to dig the nonce out of this frame could still forge it; the jail, not this
check, is what protects the host.
"""

import contextlib
import os
import sys
import traceback


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        # The program may have replaced or closed them; the verdict must still go out.
        with contextlib.suppress(BaseException):
            stream.flush()


def main() -> None:
    nonce = sys.stdin.readline().strip()
    source = sys.stdin.read()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(source, "<program>", "exec"), namespace)
    except BaseException as e:  # noqa: BLE001 - SystemExit and friends are failures too
        os.write(3, f"failed: {type(e).__name__}".encode())
        traceback.print_exc(limit=5)
        flush()
        os._exit(1)
    os.write(3, f"{nonce} passed".encode())
    flush()
    os._exit(0)  # skip atexit hooks the program may have registered


main()
