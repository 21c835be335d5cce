"""Model configs: paper models on the meta device (no download, no memory), tiny models run."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from imitate.model.backbones import architecture_config, count_parameters
from tests.conftest import compose_config


@pytest.mark.parametrize(
    ("model", "expected_billions", "tolerance"),
    [("gpt2_1.5b", 1.56, 0.02), ("llama_7b", 6.74, 0.05), ("llama_13b", 13.02, 0.05)],
)
def test_paper_models_build_on_meta_with_their_parameter_counts(
    model, expected_billions, tolerance
) -> None:
    cfg = compose_config([f"model={model}"])
    backbone = instantiate(cfg.model.backbone, device="meta")
    assert all(p.is_meta for p in backbone.parameters())
    assert count_parameters(backbone) / 1e9 == pytest.approx(expected_billions, abs=tolerance)


@pytest.mark.parametrize("model", ["tiny_llama", "tiny_gpt2"])
def test_tiny_models_forward_and_have_two_layers(model) -> None:
    cfg = compose_config([f"model={model}"])
    backbone = instantiate(cfg.model.backbone)
    assert backbone.config.num_hidden_layers == 2
    ids = torch.randint(0, 100, (2, 16))
    out = backbone(input_ids=ids, labels=ids)
    assert out.logits.shape == (2, 16, backbone.config.vocab_size)
    assert torch.isfinite(out.loss)


def test_smollm2_config_matches_the_packaged_weights(smollm2_tokenizer) -> None:
    """The inline architecture (used on meta) must equal what the GGUF really holds."""
    from transformers import AutoConfig

    from imitate.pretrained import local_weights

    cfg = compose_config(["model=smollm2_135m"])
    inline = architecture_config(cfg.model.backbone.architecture, dict(cfg.model.backbone.config))
    real = AutoConfig.from_pretrained(
        local_weights(cfg.model.backbone.weights, cfg.model.backbone.cache_dir)
    )
    for key in (
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "tie_word_embeddings",
    ):
        assert getattr(inline, key) == getattr(real, key), key


def test_bad_architecture_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not an importable config class"):
        architecture_config("transformers.LlamaConfg", {})
