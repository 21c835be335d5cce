"""NQ-synthetic through the real OpenAI client: killed and rerun against a counting loopback server,
and end to end against a real `transformers serve` of SmolLM2 from local files."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.subprocess_run import imitate_command, imitate_env, run_imitate
from tests.support.teacher_jobs import FIXTURES, make_job, read_as_data_nq_synthetic
from tests.teacher.qa_server import PRICES, QAServer
from tests.teacher.scripted import ScriptedLLM

SETTINGS = {"n_examples": 50, "batch_size": 4}


def _cli(tmp_path: Path, base_url: str, model: str, *llm: str, **generate) -> list[str]:
    overrides = {
        "output": tmp_path / "out.jsonl",
        "seed_file": FIXTURES / "nq_seed.jsonl",
        "exclude_questions": f"[{FIXTURES / 'nq_eval.jsonl'}]",
        **SETTINGS,
        **generate,
    }
    return [
        "llm=local_server",
        f"llm.base_url={base_url}",
        f"llm.model={model}",
        f"llm.cache={tmp_path / 'requests.sqlite'}",
        "llm.max_concurrency=4",
        *llm,
        "~tracking",
        f"hydra.run.dir={tmp_path / 'hydra'}",
        *(f"generate.{key}={value}" for key, value in overrides.items()),
    ]


def _start(args: list[str]) -> subprocess.Popen:
    command = imitate_command(*args, module="imitate.generate")
    return subprocess.Popen(command, cwd=REPO, env=imitate_env(None), stderr=subprocess.PIPE, text=True)  # fmt: skip


def _generate(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_imitate(args, module="imitate.generate", cwd=REPO, uri=None, env=env or {}, timeout_s=300)  # fmt: skip


@pytest.mark.slow  # five CLI runs: ~20 s idle, a minute on busy cores
def test_sigkill_and_rerun_never_pays_twice_and_the_manifest_counts_every_answer(
    tmp_path: Path,
) -> None:
    rng = random.Random(int(os.environ.get("IMITATE_KILL_SEED", time.time_ns())))
    reference = make_job(tmp_path / "reference.jsonl", **SETTINGS).run(ScriptedLLM())
    total = reference["counts"]["requests"]
    assert reference["stopped"] == "n_examples"  # the target is reached: the end is tested too
    with QAServer() as server:
        prices = [f"llm.{name}={value}" for name, value in PRICES.items()]
        args = _cli(tmp_path, server.url, "qa-teacher", *prices)
        for _ in range(2):
            unanswered = total - len(server.answers)
            if unanswered < 2:
                break
            server.hold_after(rng.randint(1, unanswered - 1))
            process = _start(args)
            assert server.holding.wait(timeout=120), process.stderr.read()
            time.sleep(0.5)  # every reply already sent reaches the client's cache
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            server.release()
        for _ in range(2):  # the run to the end, then a rerun of the finished job
            _generate(args)
        assert (tmp_path / "out.jsonl").read_text() == (tmp_path / "reference.jsonl").read_text()
        final = json.loads((tmp_path / "out.manifest.json").read_text())
        assert final["counts"] == reference["counts"] and final["stopped"] == reference["stopped"]
        assert len(server.answers) == total and set(server.answers.values()) == {1}
        # Each request was answered once; only those held unanswered at a kill were sent again.
        assert sum(server.arrivals.values()) == total + server.held and server.held > 0
        assert final["runs"] >= 2
        # Answers a killed run got after its last commit were counted on resume, none twice:
        # the manifest's ledger is the server's bill.
        assert final["usage"]["llm/requests"] == sum(server.answers.values()) == total
        assert final["usage"]["llm/cost_usd"] == server.billed_usd > 0


def test_the_api_key_is_in_no_file_the_job_writes(tmp_path: Path) -> None:
    """Outputs, manifest, request cache, Hydra's folder and the MLflow store and artifacts."""
    sentinel = "sk-teacher-sentinel-0123456789abcdef"
    with QAServer() as server:
        args = _cli(
            tmp_path,
            server.url,
            "qa-teacher",
            "llm.api_key_env=IMITATE_TEST_TEACHER_KEY",
            "tracking=mlflow",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"tracking.artifact_root={tmp_path / 'artifacts'}",
            n_examples=5,
        )
        args.remove("~tracking")
        done = _generate(args, {"IMITATE_TEST_TEACHER_KEY": sentinel})
        assert server.authorizations == {f"Bearer {sentinel}"}  # the key was used
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"out.jsonl", "out.manifest.json", "requests.sqlite", "mlflow.db"} <= {
        p.name for p in written
    }
    assert any(p.name == "nq_synthetic.manifest.json" and "artifacts" in p.parts for p in written)
    leaked = [p for p in written if sentinel.encode() in p.read_bytes()]
    assert not leaked and sentinel not in done.stdout + done.stderr


@pytest.mark.slow
def test_nq_synthetic_end_to_end_on_transformers_serve(served, tmp_path: Path) -> None:
    """A real served model as the teacher: a bounded job runs, its manifest adds up, a rerun is free."""
    base_url, model_dir = served
    # One chunk of two concurrent requests, short replies: a 135M model on a shared CPU is slow.
    args = _cli(
        tmp_path,
        base_url,
        model_dir,
        "llm.timeout_s=900",
        n_examples=2,
        batch_size=2,
        pairs_per_request=2,
        max_requests=2,
        max_new_tokens=32,
    )
    run_imitate(args, module="imitate.generate", cwd=REPO, uri=None, timeout_s=1800)
    manifest = json.loads((tmp_path / "out.manifest.json").read_text())
    counts = manifest["counts"]
    assert manifest["stopped"] in ("n_examples", "max_requests")
    assert counts["requests"] == 2 or counts["accepted"] == 2
    assert counts["candidates"] == counts["accepted"] + sum(counts["rejected"].values())
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == counts["accepted"]
    assert manifest["usage"]["llm/requests"] == counts["requests"]
    assert len(read_as_data_nq_synthetic(tmp_path / "out.jsonl")) == counts["accepted"]
    first = (tmp_path / "out.jsonl").read_text()
    # The same job from scratch is answered by the request cache: same file, nothing sent.
    (tmp_path / "out.jsonl").unlink()
    (tmp_path / "out.manifest.json").unlink()
    _generate(args)
    assert (tmp_path / "out.jsonl").read_text() == first
    usage = json.loads((tmp_path / "out.manifest.json").read_text())["usage"]
    assert usage["llm/requests"] == 0 and usage["llm/cache_hits"] == counts["requests"]
