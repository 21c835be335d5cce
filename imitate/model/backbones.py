"""Build the HF causal LM a ``model`` config names (its tokenizer: ``imitate.pretrained``).

``weights`` selects where parameters come from: ``null`` (random init from the inline
architecture: tiny test models), a hub id or local directory, or ``package:<dist>`` (a GGUF in a
pip package). The inline architecture lets every model be built on the meta device without
downloading anything, e.g. to count LLaMA-13B's parameters.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from imitate.pretrained import DEFAULT_CACHE, local_weights

log = logging.getLogger(__name__)


def build_backbone(
    architecture: str,
    config: dict[str, Any],
    weights: str | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    cache_dir: str = DEFAULT_CACHE,
) -> PreTrainedModel:
    """The causal LM: random-init (``weights: null``), pretrained, or empty on ``device='meta'``."""
    torch_dtype = dtype_named(dtype, "model.backbone.dtype")
    # `dtype=`, not `torch_dtype=`: transformers deprecated the old name (a warning every run)
    if weights is None or device == "meta":
        hf_config = architecture_config(architecture, config)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(hf_config, dtype=torch_dtype)
        return model
    return AutoModelForCausalLM.from_pretrained(
        local_weights(weights, cache_dir), dtype=torch_dtype
    )


def architecture_config(architecture: str, config: dict[str, Any]) -> PretrainedConfig:
    """``transformers.LlamaConfig`` + kwargs -> config object, with a clear error for typos."""
    module_name, _, class_name = architecture.rpartition(".")
    try:
        config_class = getattr(importlib.import_module(module_name or "transformers"), class_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(
            f"model.backbone.architecture={architecture!r} is not an importable config class; "
            "use e.g. transformers.LlamaConfig or transformers.GPT2Config"
        ) from err
    return config_class(**config)


def dtype_named(name: str, key: str) -> torch.dtype:
    """The torch dtype a config names (``bfloat16``); the error names the config ``key``."""
    value = getattr(torch, str(name), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(
            f"{key}={name!r} is not a torch dtype; use bfloat16 or float32 (or float16)"
        )
    return value


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
