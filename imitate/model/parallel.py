"""FSDP2 for any HF causal LM, applied by ``ImitationLM.configure_model`` under ``trainer=fsdp``.

Sharding is torch's ``fully_shard`` on each decoder block (the class HF lists in
``_no_split_modules``, so GPT-2 and LLaMA need no special code) and then on the root; Lightning's
``ModelParallelStrategy`` owns the process group, the device mesh, optimizer setup and the
distributed checkpoints. Large models are built on the meta device, sharded there, and only then
materialised: each rank allocates its own shard and reads or initialises just that.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
from accelerate import init_empty_weights
from pytorch_lightning.strategies import ModelParallelStrategy
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import (
    CPUOffloadPolicy,
    MixedPrecisionPolicy,
    OffloadPolicy,
    fully_shard,
)
from torch.distributed.tensor import DTensor, distribute_tensor
from transformers import PreTrainedModel

from imitate.model.backbones import dtype_named
from imitate.pretrained import local_weights

log = logging.getLogger(__name__)


@dataclass
class ParallelConfig:
    """``parallel:`` in train.yaml; read only when the strategy is a ``ModelParallelStrategy``."""

    param_dtype: str = "bfloat16"  # all-gathered weights and compute
    reduce_dtype: str = "float32"  # gradient reduce-scatter
    activation_checkpointing: bool = True
    cpu_offload: bool = False
    meta_init: bool = True  # build on meta, materialise shard by shard (else: full copy per rank)


def fsdp_strategy(
    num_nodes: int, devices: int | str, save_distributed_checkpoint: bool = True
) -> ModelParallelStrategy:
    """Lightning's ModelParallelStrategy as pure FSDP: one data-parallel dimension over all ranks.

    Its ``"auto"`` sizes mean nodes × GPUs-per-node (HSDP/tensor parallel); pure FSDP needs every
    rank in the data-parallel dimension, or ranks of one node would read the same batches.
    """
    if not isinstance(devices, int):
        raise ValueError(
            f"trainer.devices={devices!r} under trainer=fsdp: set the number of devices per node "
            "(e.g. trainer.devices=8), so the data-parallel size num_nodes × devices is known"
        )
    return ModelParallelStrategy(
        data_parallel_size=num_nodes * devices,
        tensor_parallel_size=1,
        save_distributed_checkpoint=save_distributed_checkpoint,
    )


def require_external_launch(trainer) -> None:
    """Refuse a Hydra multirun that Lightning would re-launch per device (the Hydra + Lightning trap).

    Lightning starts extra processes by re-running the command line; under ``-m`` each would
    start the whole sweep again. torchrun and SLURM start the processes themselves instead.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    environment = getattr(trainer.strategy, "cluster_environment", None)  # None: one device
    if environment is None or environment.creates_processes_externally:
        return
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise RuntimeError(
            f"a multirun with {trainer.world_size} processes per cell would be re-launched by "
            "Lightning; start each cell with torchrun (python -m torch.distributed.run "
            "--nproc_per_node N -m imitate ...) or use hydra/launcher=slurm"
        )


def build_sharded(
    factory: Callable[..., PreTrainedModel],
    weights_dir: str | None,
    mesh: DeviceMesh,
    config: ParallelConfig,
    device: torch.device,
    vocab_size: int | None,
    adapt: Callable[[PreTrainedModel], PreTrainedModel] | None = None,
) -> PreTrainedModel:
    """The backbone, sharded over ``mesh``; with ``meta_init`` no rank ever holds all of it.

    ``adapt`` (an adapter's wrapper) is applied before sharding, as torchtune does: FSDP2 shards
    the frozen base weights and the trainable adapter weights alike, per block.
    """
    if adapt is not None and config.meta_init:
        config = _without_meta_init(config)
    if config.cpu_offload and device.type == "cpu":
        raise ValueError(
            "parallel.cpu_offload=true moves sharded weights, gradients and optimizer states from "
            "the GPUs to host memory, but this run trains on the CPU already: set "
            "parallel.cpu_offload=false (or train on GPUs, trainer.accelerator=gpu)"
        )
    if config.meta_init:
        with init_empty_weights():  # parameters on meta; buffers (small) built for real on CPU
            model = factory(weights=None)
        model = resized(model, vocab_size)  # on meta: the loader writes the new rows
    else:
        model = resized(factory(), vocab_size)
    if adapt is not None:
        model = adapt(model)
    # Sharded master weights stay fp32; parallel.param_dtype is what is gathered and computed in.
    model.to(torch.float32)  # type: ignore[arg-type]  # transformers' @wraps(Module.to) hides self
    shard(model, mesh, config)
    if config.meta_init:
        materialise(model, device, Path(weights_dir) if weights_dir else None)
    return model


def _without_meta_init(config: ParallelConfig) -> ParallelConfig:
    """An adapter's weights are built from the loaded base (LoRA's B at zero, peft's trainable
    token rows copied from the embedding): materialising shard by shard would give them HF's init
    instead. So each rank builds the whole model first, as ``meta_init=false`` does, and says so."""
    log.info(
        "adapter under trainer=fsdp: parallel.meta_init=true resolved to false (each rank builds "
        "the full base model in host memory before sharding; peft initialises the adapter from it)"
    )
    return dataclasses.replace(config, meta_init=False)


def pretrained_dir(weights: str | None, cache_dir: str) -> str | None:
    """A local ``save_pretrained`` directory for ``model.backbone.weights`` (downloads a hub id)."""
    if weights is None:
        return None
    local = local_weights(weights, cache_dir)  # GGUF packages are converted once, then cached
    if Path(local).is_dir():
        return local
    from huggingface_hub import snapshot_download

    return snapshot_download(local, allow_patterns=["*.safetensors", "*.json"])


def resized(model: PreTrainedModel, vocab_size: int | None) -> PreTrainedModel:
    """Grow the embeddings to the tokenizer's vocabulary (imitate adds role-marker tokens).

    New rows start as the mean of the existing ones (``_mean_row``, which ``_copy_into`` also uses
    when weights are loaded shard by shard), so every strategy starts from the same weights (HF's
    own mean resizing samples them at random).
    """
    known = cast(nn.Embedding, model.get_input_embeddings()).num_embeddings  # typed as a Module
    if not vocab_size or known >= vocab_size:
        return model
    model.resize_token_embeddings(vocab_size, mean_resizing=False)
    heads = {id(m): m for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m}
    with torch.no_grad():
        for head in heads.values():
            weight = head.weight
            assert isinstance(weight, torch.Tensor), f"{type(head).__name__}.weight is a tensor"
            if not weight.is_meta:
                weight[known:] = _mean_row(weight[:known])
    return model


def _mean_row(rows: torch.Tensor) -> torch.Tensor:
    """What a row added to an embedding starts as, in every strategy: the mean of the others."""
    return rows.float().mean(0, keepdim=True).to(rows.dtype)


def decoder_block_classes(model: PreTrainedModel) -> tuple[type[nn.Module], ...]:
    """The module classes HF says must not be split across devices: the decoder blocks."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    classes = tuple({type(m) for m in model.modules() if type(m).__name__ in names})
    if not classes:
        raise ValueError(
            f"{type(model).__name__} lists no decoder block in _no_split_modules ({sorted(names)}); "
            "FSDP needs one to shard per block"
        )
    return classes


def shard(model: PreTrainedModel, mesh: DeviceMesh, config: ParallelConfig) -> PreTrainedModel:
    """Activation checkpointing and ``fully_shard`` on every decoder block, then on the root."""
    mp_policy = MixedPrecisionPolicy(
        param_dtype=dtype_named(config.param_dtype, "parallel.param_dtype"),
        reduce_dtype=dtype_named(config.reduce_dtype, "parallel.reduce_dtype"),
    )
    offload_policy = CPUOffloadPolicy() if config.cpu_offload else OffloadPolicy()  # the default

    def shard_one(module: nn.Module) -> None:
        fully_shard(module, mesh=mesh, mp_policy=mp_policy, offload_policy=offload_policy)

    block_classes = decoder_block_classes(model)
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, block_classes):
                if config.activation_checkpointing:
                    child = checkpoint_wrapper(child)
                    parent.register_module(name, child)
                shard_one(child)
    shard_one(model)
    return model


def materialise(model: PreTrainedModel, device: torch.device, weights_dir: Path | None) -> None:
    """Allocate each rank's shards on ``device``; fill them from ``weights_dir`` or HF's init.

    Buffers (e.g. rotary frequencies) were built for real on CPU and are restored after
    ``to_empty``, which would otherwise leave them uninitialised.
    """
    buffers = {name: buf.detach().clone() for name, buf in model.named_buffers()}
    model.to_empty(device=device)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            buf.copy_(buffers[name].to(device))
        if weights_dir is None:
            model.apply(model._init_weights)
        else:
            load_sharded(model, weights_dir)


def load_sharded(model: PreTrainedModel, weights_dir: Path) -> None:
    """Copy a ``save_pretrained`` directory into the sharded parameters one tensor at a time.

    Each tensor is memory-mapped from safetensors and only this rank's slice is copied, so no
    rank holds more than one full tensor in host memory.
    """
    from safetensors import safe_open

    files = sorted(Path(weights_dir).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no *.safetensors in {weights_dir}; save it with save_pretrained")
    where: dict[str, Path] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            where |= {key: file for key in handle.keys()}  # noqa: SIM118 (not a dict)
    for name, param in model.state_dict().items():
        key = _checkpoint_key(name, where)
        if key is None:
            if _is_tied_head(model, name):
                continue
            raise KeyError(f"{name} not found in {weights_dir} (keys like {next(iter(where))})")
        with safe_open(str(where[key]), framework="pt") as handle:
            full = handle.get_tensor(key)
        _copy_into(param, full)


def _copy_into(param: torch.Tensor, full: torch.Tensor) -> None:
    full = full.to(param.dtype)
    if full.shape[0] < param.shape[0]:  # embeddings grown for role markers, as ``resized`` does
        full = torch.cat([full, _mean_row(full).expand(param.shape[0] - full.shape[0], -1)])
    if isinstance(param, DTensor):
        # Every rank read the same file: each keeps its own slice, no scatter from rank 0.
        local = distribute_tensor(full, param.device_mesh, param.placements, src_data_rank=None)
        param.to_local().copy_(local.to_local())
    else:
        param.copy_(full)


def _checkpoint_key(name: str, where: dict) -> str | None:
    # Old hub checkpoints (gpt2-xl) store GPT-2 blocks without the "transformer." prefix.
    candidates = [name, name.split(".", 1)[-1]]
    return next((key for key in candidates if key in where), None)


def _is_tied_head(model: PreTrainedModel, name: str) -> bool:
    return bool(model.config.tie_word_embeddings) and name.startswith("lm_head.")
