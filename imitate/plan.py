"""Dry-run planner: parameters, memory per GPU and wall time of a training config, without a GPU.

Run: ``python -m imitate.plan model=llama_7b plan.gpu=h100`` for one cell, or
``python -m imitate.plan -m`` for the paper grid (gpt2_1.5b, llama_7b, llama_13b × 8×A100-80GB,
8×H100) in conf/plan.yaml. The model is built on the meta device: nothing is downloaded.

Memory model (bytes per GPU; b micro-batch, T sequence, h hidden, I MLP width, V vocabulary):
weights, gradients and the optimizer's two fp32 moments (gradients and moments only for the
trainable weights: under ``adapter=lora`` the LoRA matrices and role-marker rows), divided by the
world size under FSDP
(whose sharded master weights are fp32), plus FSDP's unsharded working copies (two blocks in
flight and the root); activations per layer ≈ b·T·(e·(12h + 4I) + 16h) with e the compute dtype's
bytes (fused attention, so no T² scores; RMS/LayerNorm upcasts to fp32), or e·b·T·h per layer
plus one layer's activations with activation checkpointing; and the loss's logits, b·T·V·(e + 12)
(fp32 upcast, log-softmax and its gradient), or b·T·V·12 in fp32.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from transformers import PreTrainedModel

from imitate.config_hints import run_with_hints
from imitate.config_schema import checked_task
from imitate.data.format import ChatFormat
from imitate.model import adapters, flops
from imitate.model.adapters import AdapterConfig
from imitate.model.backbones import dtype_named
from imitate.model.parallel import decoder_block_classes

STRATEGIES = ("fsdp", "ddp", "single")
_OPTIMIZER_BYTES = 8  # ParamScaledAdamW / AdamW: exp_avg and exp_avg_sq in fp32


@dataclass(frozen=True)
class ModelShape:
    params: int
    non_embedding: int
    block_params: int  # one decoder block
    root_params: int  # everything outside the blocks (embeddings, final norm, head)
    layers: int
    hidden: int
    intermediate: int
    vocab: int
    max_positions: int | None
    heads: int
    trainable: int | None = None  # weights with gradients and optimizer states; None: all


@dataclass(frozen=True)
class Setup:
    strategy: str
    world_size: int
    micro_batch: int
    seq_len: int
    storage_bytes: int  # bytes per stored (master) weight
    compute_bytes: int  # bytes per weight/activation element in forward and backward


def meta_model(backbone_cfg: DictConfig) -> PreTrainedModel:
    """The real architecture on the meta device: shapes without memory or downloads."""
    return instantiate(backbone_cfg, device="meta")


def model_shape(backbone_cfg: DictConfig, adapter: AdapterConfig | None = None) -> ModelShape:
    """Counts from the real architecture, built on the meta device (and wrapped by ``adapter``)."""
    shape = shape_of(meta_model(backbone_cfg))
    if adapter is None or not adapter.enabled:
        return shape
    return dataclasses.replace(shape, trainable=trainable_under(backbone_cfg, adapter))


def trainable_under(backbone_cfg: DictConfig, adapter: AdapterConfig) -> int:
    """Trainable weights of the adapted model, on the meta device. Which rows the role markers
    get does not change the count: the vocabulary's last rows stand in for them."""
    model = meta_model(backbone_cfg)
    vocab = int(model.config.vocab_size)  # meta_model builds from the config, unresized
    markers = len(ChatFormat().markers())
    adapted = adapters.wrap(model, adapter, range(vocab - markers, vocab))
    return adapters.trainable_parameters(adapted)[0]


def shape_of(model: PreTrainedModel) -> ModelShape:
    blocks = [m for m in model.modules() if isinstance(m, decoder_block_classes(model))]
    params = sum(p.numel() for p in model.parameters())
    block_params = sum(p.numel() for p in blocks[0].parameters())
    config = model.config
    hidden = config.hidden_size
    return ModelShape(
        params=params,
        non_embedding=flops.non_embedding_parameters(model),
        block_params=block_params,
        root_params=params - block_params * len(blocks),
        layers=config.num_hidden_layers,
        hidden=hidden,
        intermediate=getattr(config, "intermediate_size", None) or 4 * hidden,
        vocab=config.vocab_size,
        max_positions=getattr(config, "max_position_embeddings", None),
        heads=config.num_attention_heads,
    )


def memory_per_device(shape: ModelShape, setup: Setup) -> dict[str, float]:
    """Bytes per device by kind; ``activations`` without and ``activations_checkpointed`` with."""
    shards = setup.world_size if setup.strategy == "fsdp" else 1
    state = shape.params * setup.storage_bytes / shards
    trainable = shape.params if shape.trainable is None else shape.trainable
    working = 0.0
    if setup.strategy == "fsdp":  # gathered compute copies: 2 blocks in flight + the root
        working = (2 * shape.block_params + shape.root_params) * setup.compute_bytes
    tokens = setup.micro_batch * setup.seq_len
    e = setup.compute_bytes
    per_layer = tokens * (e * (12 * shape.hidden + 4 * shape.intermediate) + 16 * shape.hidden)
    logits_bytes = 12 + (e if e != 4 else 0)  # the (upcast) logits, log-softmax, their gradient
    return {
        "weights": state + working,
        "gradients": trainable * setup.storage_bytes / shards,
        "optimizer": trainable * _OPTIMIZER_BYTES / shards,
        "activations": per_layer * shape.layers,
        "activations_checkpointed": tokens * e * shape.hidden * shape.layers + per_layer,
        "logits": tokens * shape.vocab * logits_bytes,
    }


def total(memory: dict[str, float], checkpointing: bool) -> float:
    skip = "activations" if checkpointing else "activations_checkpointed"
    return sum(value for key, value in memory.items() if key != skip)


def wall_time_seconds(
    tokens: float, flops_per_token: float, world_size: int, peak: float, mfu: float
) -> float:
    return tokens * flops_per_token / (world_size * peak * mfu)


def strategy_of(trainer_cfg: DictConfig) -> str:
    """fsdp / ddp / single, read from the trainer config's strategy."""
    strategy = trainer_cfg.get("strategy")
    if isinstance(strategy, DictConfig) and "fsdp" in str(strategy.get("_target_", "")):
        return "fsdp"
    if isinstance(strategy, str) and strategy.startswith("ddp"):
        return "ddp"
    return "single"


def setup_of(cfg: DictConfig) -> Setup:
    strategy = cfg.plan.strategy or strategy_of(cfg.trainer)
    if strategy not in STRATEGIES:
        raise ValueError(f"plan.strategy={strategy!r}; valid: {', '.join(STRATEGIES)} or null")
    storage = 4 if strategy == "fsdp" else _bytes(cfg.model.backbone.dtype, "model.backbone.dtype")
    if strategy == "fsdp":
        compute = _bytes(cfg.parallel.param_dtype, "parallel.param_dtype")
    else:
        compute = 2 if str(cfg.trainer.precision).startswith(("bf16", "16")) else storage
    return Setup(
        strategy, cfg.plan.world_size, cfg.batch.micro_size, cfg.data.block_size, storage, compute
    )


def report(cfg: DictConfig, name: str = "plan") -> str:
    """The planner's text for one grid cell."""
    setup = setup_of(cfg)  # config errors first, before the model is built
    model = meta_model(cfg.model.backbone)
    adapter = AdapterConfig(**cfg.adapter)
    shape = shape_of(model)
    if adapter.enabled:
        shape = dataclasses.replace(shape, trainable=trainable_under(cfg.model.backbone, adapter))
    gpu = flops.accelerator_named(cfg.plan.gpu)
    memory = memory_per_device(shape, setup)
    tokens = cfg.plan.tokens or cfg.data.max_tokens * cfg.trainer.max_epochs
    per_token = flops.flops_per_token(model, setup.seq_len)  # the formula train/mfu uses
    seconds = wall_time_seconds(
        tokens, per_token, setup.world_size, gpu.peak_bf16_flops, cfg.plan.mfu
    )
    lines = [
        f"== {name}: {shape.params / 1e9:.2f}B params ({shape.non_embedding / 1e9:.2f}B "
        f"non-embedding), {setup.strategy} on {setup.world_size}× {gpu.name}, micro-batch "
        f"{setup.micro_batch} × {setup.seq_len} tokens",
        "   per GPU (GiB): " + ", ".join(f"{k} {v / flops.GIB:.1f}" for k, v in memory.items()),
    ]
    if shape.trainable is not None:
        lines.append(
            f"   adapter {adapter.method} (rank {adapter.rank}): {shape.trainable / 1e6:.1f}M "
            f"trainable ({shape.trainable / shape.params:.2%}): gradients and optimizer states"
        )
    for checkpointing in (False, True):
        need = total(memory, checkpointing)
        fits = "fits" if need < 0.9 * gpu.memory_bytes else "DOES NOT FIT"
        lines.append(
            f"   total {'with' if checkpointing else 'without'} activation checkpointing: "
            f"{need / flops.GIB:.1f} GiB of {gpu.memory_bytes / flops.GIB:.0f} ({fits})"
        )
    lines.append(
        f"   {tokens / 1e6:.1f}M tokens at {per_token / 1e9:.1f} GFLOP/token, MFU {cfg.plan.mfu:.0%}: "
        f"~{seconds / 3600:.2f} h"
    )
    if shape.max_positions and setup.seq_len > shape.max_positions:
        lines.append(
            f"   WILL NOT RUN: data.block_size={setup.seq_len} exceeds the model's "
            f"{shape.max_positions} positions; set data.block_size<={shape.max_positions}"
        )
    return "\n".join(lines)


def _bytes(dtype_name: str, key: str) -> int:
    return dtype_named(dtype_name, key).itemsize


@hydra.main(config_path="pkg://imitate.conf", config_name="plan", version_base="1.3")
@checked_task("plan")  # a plan of a config the run would refuse is no plan
def main(cfg: DictConfig) -> None:
    print(report(cfg, HydraConfig.get().runtime.choices["model"]), flush=True)


def cli() -> None:
    run_with_hints(main)  # a refused config also prints the valid keys and the closest match


if __name__ == "__main__":
    cli()
