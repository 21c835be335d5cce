"""A 50-request generation job the SIGKILL test runs in a child process: python echo_job.py URL CACHE OUT."""

from __future__ import annotations

import json
import sys

from imitate.llm.base import GenerationRequest
from imitate.llm.openai_client import OpenAIClient

JOB_SIZE = 50


def job_requests() -> list[GenerationRequest]:
    return [GenerationRequest(prompt=f"question {i}", max_new_tokens=8) for i in range(JOB_SIZE)]


def main(base_url: str, cache: str, out: str) -> None:
    client = OpenAIClient(base_url, "echo-model", cache=cache, max_concurrency=4, timeout_s=30)
    texts = client.generate(job_requests())
    with open(out, "w") as handle:
        json.dump({"texts": texts, "usage": client.usage_metrics()}, handle)


if __name__ == "__main__":
    main(*sys.argv[1:4])
