"""Training FLOPs per token, accelerator peaks, and model FLOPs utilisation (MFU).

One documented formula (PaLM appendix B, as torchtitan uses it): a token costs
``6·N + 12·L·H·Q·T`` FLOPs forward + backward, where N counts the non-embedding parameters, L the
layers, H the attention heads, Q the head dimension and T the sequence length. MFU is achieved
FLOPs over the device's dense bf16 peak; activation-checkpointing recompute is not counted (that
would be hardware FLOPs utilisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

TOKENS_PER_SECOND_PER_DEVICE = "train/tokens_per_s_per_device"
MFU = "train/mfu"

GIB = 1024**3


@dataclass(frozen=True)
class Accelerator:
    name: str
    peak_bf16_flops: float  # dense, no sparsity
    memory_bytes: int


# Datasheet dense bf16 peaks. Keys are planner names (plan.gpu=...); `match` below maps
# torch.cuda.get_device_name() onto them. More specific names come first (H100 PCIe before H100).
ACCELERATORS: dict[str, Accelerator] = {
    "h100_pcie": Accelerator("NVIDIA H100 PCIe", 756e12, 80 * GIB),
    "h100_nvl": Accelerator("NVIDIA H100 NVL", 835e12, 94 * GIB),
    "h100": Accelerator("NVIDIA H100 SXM 80GB", 989e12, 80 * GIB),
    "h200": Accelerator("NVIDIA H200", 989e12, 141 * GIB),
    "a100_40gb": Accelerator("NVIDIA A100 40GB", 312e12, 40 * GIB),
    "a100_80gb": Accelerator("NVIDIA A100 80GB", 312e12, 80 * GIB),
    "l40s": Accelerator("NVIDIA L40S", 362e12, 48 * GIB),
    "l4": Accelerator("NVIDIA L4", 121e12, 24 * GIB),
    "a10": Accelerator("NVIDIA A10", 125e12, 24 * GIB),
}
_DEVICE_NAME_MARKERS = [  # (substring of the CUDA device name, key above)
    ("H100 PCIE", "h100_pcie"),
    ("H100 NVL", "h100_nvl"),
    ("H100", "h100"),
    ("H200", "h200"),
    ("GH200", "h200"),
    ("A100-SXM4-40GB", "a100_40gb"),
    ("A100-PCIE-40GB", "a100_40gb"),
    ("A100", "a100_80gb"),
    ("L40S", "l40s"),
    ("L4", "l4"),
    ("A10", "a10"),
]


def accelerator_named(key: str) -> Accelerator:
    """The table entry for a planner name like ``a100_80gb``; a clear error lists the valid ones."""
    if key not in ACCELERATORS:
        raise ValueError(f"plan.gpu={key!r} is not in the table; valid: {', '.join(ACCELERATORS)}")
    return ACCELERATORS[key]


def accelerator_of(device: torch.device) -> Accelerator | None:
    """The running device's table entry; ``None`` for CPUs and devices not in the table (no MFU)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device).upper()
    for marker, key in _DEVICE_NAME_MARKERS:
        if marker.upper() in name:
            return ACCELERATORS[key]
    return None


def non_embedding_parameters(model: PreTrainedModel) -> int:
    """Parameters minus token and position embeddings (a tied output head goes with them)."""
    embeddings = {id(p) for p in model.get_input_embeddings().parameters()}
    position = getattr(
        getattr(model, "transformer", None), "wpe", None
    )  # GPT-2's learned positions
    if position is not None:
        embeddings |= {id(p) for p in position.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embeddings)


def flops_per_token(model: PreTrainedModel, seq_len: int) -> float:
    """Forward + backward FLOPs per trained token: ``6·N + 12·L·H·Q·T``."""
    config = model.config
    layers = config.num_hidden_layers
    heads = config.num_attention_heads
    head_dim = config.hidden_size // heads
    return 6 * non_embedding_parameters(model) + 12 * layers * heads * head_dim * seq_len


def mfu(tokens_per_second_per_device: float, flops_per_trained_token: float, peak: float) -> float:
    return tokens_per_second_per_device * flops_per_trained_token / peak
