"""Start and stop a real `transformers serve` on 127.0.0.1 for one local model folder, offline."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.support.local_servers import free_port, wait_healthy

STARTUP_S = 180


class ServeUnavailable(RuntimeError):
    """`transformers serve` cannot run here (no `transformers` command or serving extras)."""


@contextlib.contextmanager
def transformers_serve(
    model_dir: str,
    workdir: Path,
    device: str = "cpu",
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The /v1 base URL of `transformers serve model_dir`, with HF_HUB_OFFLINE=1 and an empty HF_HOME."""
    executable = Path(sys.executable).with_name("transformers")
    if not executable.exists():
        raise ServeUnavailable(f"no `transformers` command beside {sys.executable}")
    for module in ("fastapi", "uvicorn"):
        try:
            __import__(module)
        except ImportError as err:
            raise ServeUnavailable(f"{module} missing: pip install 'imitate[serve]'") from err
    port = free_port()
    home = workdir / "hf_home"
    home.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(home)}
    env |= dict(extra_env or {})
    command = [str(executable), "serve", model_dir, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--device", device, "--dtype", "float32", *extra_args]
    log_path = workdir / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            health = f"http://127.0.0.1:{port}/health"
            wait_healthy(health, server, log_path, "transformers serve", STARTUP_S)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)
