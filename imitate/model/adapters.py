"""Parameter-efficient imitation: LoRA through ``peft`` on the decoder blocks' linear layers.

``adapter=lora`` wraps the backbone ``ImitationLM`` builds in a ``peft.PeftModel``: low-rank
updates on the linear layers the model config lists in ``lora_targets`` (all linear layers of the
block, named per architecture, not guessed), and, through peft's ``trainable_token_indices``, the
rows of the role-marker tokens imitate adds (``<|system|>``, ``<|user|>``, ``<|assistant|>``).
Those rows are new: a frozen embedding would leave them at their initial value, yet unfreezing
the whole embedding (``modules_to_save``) would train and save every row of a 32k-49k vocabulary.
peft keeps one delta tensor for just those rows, shared with a tied output head.

Saved for use: the adapter (``save_pretrained``, loadable with ``peft``) and the merged model, a
plain ``save_pretrained`` folder that serves like a fully fine-tuned one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch.distributed as dist
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import PreTrainedModel
from transformers.pytorch_utils import Conv1D

from imitate.model.checkpoints import full_state_dict, require_free_disk

METHODS = ("none", "lora")
ADAPTER_DIR = "adapter"  # beside model/ in a run's outputs


@dataclass
class AdapterConfig:
    """``adapter:`` in train.yaml (conf/adapter/): ``none`` trains every weight."""

    method: str = "none"  # none | lora
    rank: int = 16
    alpha: float = 32.0  # the update is scaled by alpha / rank
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=list)  # the model config's lora_targets
    save_merged: bool = True  # also save the merged model as model/ (else only adapter/)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"adapter.method={self.method!r}; valid: {', '.join(METHODS)}")
        if self.rank < 1:
            raise ValueError(f"adapter.rank={self.rank}; valid: a positive integer (e.g. 16)")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"adapter.dropout={self.dropout}; valid: 0 <= dropout < 1")

    @property
    def enabled(self) -> bool:
        return self.method != "none"


def wrap(
    model: PreTrainedModel, config: AdapterConfig | None, role_token_ids: Sequence[int] = ()
) -> PreTrainedModel:
    """``model`` itself without an adapter; else a ``PeftModel`` whose only trainable weights are
    the LoRA matrices and the ``role_token_ids`` rows. Works on the meta device too (the planner)."""
    if config is None or not config.enabled:
        return model
    require_targets(model, config.target_modules)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,  # type: ignore[arg-type]  # peft says int; it scales by alpha / r, a float
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        trainable_token_indices=_token_rows(model, role_token_ids),
        task_type="CAUSAL_LM",
        # GPT-2's Conv1D stores its weight transposed: peft must know it, not warn and guess.
        fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
    )
    return get_peft_model(model, lora)  # type: ignore[return-value]  # a PeftModel forwards it all


def _token_rows(model: PreTrainedModel, token_ids: Sequence[int]) -> dict[str, list[int]] | None:
    """peft's trainable_token_indices, keyed by the input embedding's own module name."""
    if not token_ids:
        return None
    embedding = model.get_input_embeddings()
    name = next(name for name, module in model.named_modules() if module is embedding)
    return {name: sorted(set(token_ids))}


def require_targets(model: PreTrainedModel, targets: Sequence[str]) -> None:
    """Every target names a linear layer of the model: a clear error instead of peft's."""
    linear = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, (nn.Linear, Conv1D))
        }
    )
    missing = sorted(set(targets) - set(linear))
    if not targets or missing:
        raise ValueError(
            f"adapter.target_modules={list(targets)} (the model config's lora_targets): "
            f"{'none given' if not targets else f'{missing} not found'} in "
            f"{type(model).__name__}; its linear layers are {linear}"
        )


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, all) parameter counts; a tied tensor counts once."""
    params = list(model.parameters())  # parameters() yields a shared tensor once
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def is_adapted(model: nn.Module) -> bool:
    return isinstance(model, PeftModel)


def save(
    model: nn.Module,
    tokenizer,
    adapter_dir: Path,
    merged_dir: Path | None,
    unsharded: Callable[[], nn.Module],
    base_weights: str | None,
) -> Path:
    """The adapter (and, with ``merged_dir``, the merged model); returns what serves: the merged
    folder, else the adapter's. Every rank calls it; rank 0 writes.

    Under FSDP the shards are gathered into ``unsharded()``, a twin built on the meta device, so
    peft merges whole tensors. Without FSDP the live model is merged in place: call it last.
    """
    sharded = _is_sharded(model)
    state = full_state_dict(model) if sharded else None  # a collective: every rank
    if _rank() == 0:
        if state is not None:
            model = unsharded()
            model.load_state_dict(state, assign=True)
        if not isinstance(model, PeftModel):
            raise TypeError(f"adapters.save: expected a peft model, got {type(model).__name__}")
        model.peft_config["default"].base_model_name_or_path = base_weights
        require_free_disk(adapter_dir, _trainable_bytes(model))
        model.save_pretrained(str(adapter_dir))
        tokenizer.save_pretrained(adapter_dir)  # its vocabulary sizes the base when loaded
        if merged_dir is not None:
            merged = model.merge_and_unload()
            require_free_disk(
                merged_dir, sum(p.numel() * p.element_size() for p in merged.parameters())
            )
            merged.save_pretrained(merged_dir)
            tokenizer.save_pretrained(merged_dir)
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    return (merged_dir or adapter_dir).resolve()


def _is_sharded(model: nn.Module) -> bool:
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def _trainable_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
