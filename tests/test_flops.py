"""FLOPs per token (6·N + 12·L·H·Q·T), the accelerator table and MFU."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from imitate.model import flops
from tests.conftest import compose_config


def _meta(model: str):
    return instantiate(compose_config([f"model={model}"]).model.backbone, device="meta")


def test_llama_7b_flops_per_token_follow_the_formula() -> None:
    model = _meta("llama_7b")
    n = flops.non_embedding_parameters(model)
    # untied head stays in N; only the 32000 × 4096 input embedding is excluded
    assert n == sum(p.numel() for p in model.parameters()) - 32000 * 4096
    assert flops.flops_per_token(model, 2048) == 6 * n + 12 * 32 * 32 * 128 * 2048


def test_gpt2_excludes_token_and_position_embeddings() -> None:
    model = _meta("gpt2_1.5b")
    embeddings = 50257 * 1600 + 1024 * 1600
    assert (
        flops.non_embedding_parameters(model)
        == sum(p.numel() for p in model.parameters()) - embeddings
    )


def test_peaks_and_device_names() -> None:
    assert flops.accelerator_named("a100_80gb").peak_bf16_flops == 312e12
    assert flops.accelerator_named("h100").peak_bf16_flops == 989e12
    assert flops.accelerator_of(torch.device("cpu")) is None  # no MFU on CPUs
    with pytest.raises(ValueError, match="h100"):
        flops.accelerator_named("v100")


def test_mfu() -> None:
    assert flops.mfu(1000.0, 6e9, 312e12) == pytest.approx(6e12 / 312e12)
