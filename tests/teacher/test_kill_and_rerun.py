"""SIGKILL an NQ-synthetic run at random points, rerun it: same dataset as an uninterrupted run.

The scripted teacher runs in the killed process and logs every request it is sent; it has no
request cache (the OpenAI client's cache is tested with a real server in test_served_teacher), so
a rerun may re-send only the requests of the chunk that was in flight, never a committed one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from imitate.hashing import stable_hash
from tests.conftest import REPO
from tests.support.teacher_jobs import make_job
from tests.teacher.kill_driver import SETTINGS
from tests.teacher.scripted import ScriptedLLM


def _sent(call_log: Path) -> list[str]:
    return (
        [json.loads(line)["key"] for line in call_log.read_text().splitlines()]
        if call_log.exists()
        else []
    )


def _start(output: Path, call_log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tests.teacher.kill_driver", str(output), str(call_log)]
    return subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)


def _kill_after(process: subprocess.Popen, call_log: Path, calls: int, rng: random.Random) -> None:
    deadline = time.monotonic() + 60
    while len(_sent(call_log)) < calls and process.poll() is None:
        assert time.monotonic() < deadline, "the generation never reached the kill point"
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.05))  # land anywhere: waiting on the teacher, appending, committing
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_sigkill_at_random_points_then_rerun(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("IMITATE_KILL_SEED", time.time_ns())))
    reference = make_job(tmp_path / "reference.jsonl", **SETTINGS).run(ScriptedLLM())
    total = reference["counts"]["requests"]
    assert reference["stopped"] == "n_examples"  # the target is reached: the end is tested too
    job = make_job(tmp_path / "out.jsonl", **SETTINGS)
    index_of = {stable_hash(job.request(i).as_dict()): i for i in range(total)}
    out, call_log = tmp_path / "out.jsonl", tmp_path / "calls.jsonl"
    committed_at_kills = []
    for kill_at in sorted(rng.sample(range(1, total), 2)):
        _kill_after(_start(out, call_log), call_log, kill_at, rng)
        manifest = tmp_path / "out.manifest.json"
        committed_at_kills.append(
            json.loads(manifest.read_text())["counts"]["requests"] if manifest.exists() else 0
        )
    rerun = _start(out, call_log)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read()

    assert out.read_text() == (tmp_path / "reference.jsonl").read_text()  # no duplicates, no gaps
    final = json.loads((tmp_path / "out.manifest.json").read_text())
    assert final["counts"] == reference["counts"] and final["stopped"] == reference["stopped"]
    sent = [index_of[key] for key in _sent(call_log)]
    assert set(sent) == set(range(total))
    repeats = sorted(i for i in set(sent) if sent.count(i) > 1)
    # Only requests of a chunk that was not committed when a kill came are ever sent again.
    in_flight = {i for c in committed_at_kills for i in range(c, c + SETTINGS["batch_size"])}
    assert set(repeats) <= in_flight, (repeats, committed_at_kills)
