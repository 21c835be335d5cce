"""Periodic (sharded) checkpoints, ``resume=auto``, and consolidation to one HF directory.

Lightning writes the checkpoints: under ``trainer=fsdp`` each is a folder of per-rank shards
(``torch.distributed.checkpoint``) plus Lightning's ``meta.pt``; under other strategies a single
``.ckpt`` file. Besides weights, optimizer and scheduler, a checkpoint holds the loop state, each
rank's train loader position (the datamodule's ``StatefulDataLoader``) and the MLflow run id, so a
resumed job continues the same run from the same batch.
"""

from __future__ import annotations

import logging
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
import torch.distributed as dist
from peft import PeftModel
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.distributed.tensor import DTensor
from transformers import PreTrainedModel

log = logging.getLogger(__name__)

MLFLOW_RUN_ID = "imitate_mlflow_run_id"  # keys in the checkpoint dict
TOKENS_SEEN_KEY = "imitate_tokens_seen"
RNG_STATES_KEY = "imitate_rng_states"  # one per rank: dropout (LoRA's, GPT-2's) continues exactly
_SHARDED_COMPLETE_MARKERS = (".metadata", "meta.pt")  # DCP's index, then Lightning's (rank 0, last)
_FILENAME = "{step}"  # ModelCheckpoint names it step=N.ckpt
# step=N.ckpt, or step=N-vK.ckpt: Lightning's name for step N saved again
_STEP_NAME = re.compile(r"step=(\d+)(-v\d+)?\.ckpt$")
_DISK_MARGIN = 1.1  # free space wanted over the estimated size of the saved weights


@dataclass
class CheckpointConfig:
    """``checkpoint:`` in train.yaml."""

    dir: str
    every_n_steps: int | None = (
        None  # None: no checkpoints; N: every N optimizer steps and at the end
    )
    keep_last: int = 2


@dataclass
class ResumePoint:
    path: str
    mlflow_run_id: str | None


def trainer_arguments(config: CheckpointConfig) -> dict:
    """Trainer kwargs: our checkpoint callback, or none at all (not Lightning's default one)."""
    callbacks = periodic_checkpoints(config)
    return {"callbacks": callbacks, "enable_checkpointing": bool(callbacks)}


def periodic_checkpoints(config: CheckpointConfig) -> list[ModelCheckpoint]:
    """Every ``every_n_steps`` optimizer steps, keeping the newest ``keep_last`` (by step)."""
    if config.every_n_steps is None:
        return []
    return [
        _StepCheckpoint(
            dirpath=config.dir,
            filename=_FILENAME,
            every_n_train_steps=config.every_n_steps,
            save_top_k=config.keep_last,
            monitor="step",
            mode="max",
            save_on_exception=False,
        )
    ]


class _StepCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that knows the step a run resumed at is on disk already.

    Lightning forgets which step it saved last. A run resumed from a checkpoint taken at an
    epoch's last batch validates that epoch first (the validation came after the save) and would
    then save the same step again, as ``step=N-v1.ckpt``.
    """

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._last_global_step_saved = trainer.global_step


def save_final(trainer, config: CheckpointConfig) -> Path | None:
    """The end-of-training checkpoint, beside the periodic ones (what ``resume=auto`` finds last)."""
    if config.every_n_steps is None:
        return None
    path = Path(config.dir) / f"step={trainer.global_step}.ckpt"
    trainer.save_checkpoint(path)
    return path


def is_complete(path: Path) -> bool:
    """A sharded folder whose index and metadata were both written, or a readable ``.ckpt`` zip."""
    if path.is_dir():
        return all((path / marker).is_file() for marker in _SHARDED_COMPLETE_MARKERS)
    return path.is_file() and zipfile.is_zipfile(path)


def newest_complete(directory: Path) -> Path | None:
    """The complete checkpoint with the highest step in ``directory`` (killed saves are skipped;
    of two saves of one step, the later)."""
    named = list(Path(directory).glob("step=*.ckpt"))
    by_step = [p for p in named if _STEP_NAME.match(p.name)]
    if strangers := sorted(p.name for p in named if p not in by_step):
        log.warning(
            "resume: ignoring %d file(s) not named step=N.ckpt in %s: %s",
            len(strangers),
            directory,
            ", ".join(strangers),
        )
    found = [p for p in by_step if is_complete(p)]
    return max(found, key=lambda path: (_step_of(path), path.stat().st_mtime_ns), default=None)


def resume_point(config: CheckpointConfig, resume: str | None) -> ResumePoint | None:
    """``resume=null``: start fresh; ``auto``: the newest complete checkpoint if any; else a path."""
    if resume is None:
        return None
    if resume == "auto":
        path = newest_complete(Path(config.dir))
        if path is None:
            log.info("resume=auto: no complete checkpoint in %s; starting fresh", config.dir)
            return None
    else:
        path = Path(resume)
        if not is_complete(path):
            raise FileNotFoundError(
                f"resume={resume!r} is not a complete checkpoint (a step=N.ckpt file, or a folder "
                f"holding {' and '.join(_SHARDED_COMPLETE_MARKERS)}); use resume=auto or null"
            )
    log.info("resuming from %s", path)
    return ResumePoint(str(path), _stored_run_id(path))


def _stored_run_id(path: Path) -> str | None:
    metadata = path / "meta.pt" if path.is_dir() else path
    state = torch.load(metadata, map_location="cpu", weights_only=False, mmap=True)
    return state.get(MLFLOW_RUN_ID)


def _step_of(path: Path) -> int:
    """N of ``step=N.ckpt`` (or of Lightning's ``step=N-v1.ckpt`` for a second save of step N)."""
    match = _STEP_NAME.match(path.name)
    if match is None:
        raise ValueError(f"checkpoint {path}: name is not step=N.ckpt")
    return int(match.group(1))


def rng_states_of_every_rank() -> list[dict]:
    """Each rank's torch generators (CPU, CUDA), where dropout draws from; every rank calls it."""
    state = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if not (dist.is_available() and dist.is_initialized()):
        return [state]
    states: list = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return states


def restore_rng_state(states: list[dict] | None) -> None:
    """This rank's generators as ``rng_states_of_every_rank`` saved them (nothing if none saved)."""
    if not states:
        return
    if len(states) != (world := dist.get_world_size() if dist.is_initialized() else 1):
        log.warning(
            "resume: RNG states of %d ranks saved, %d now; not restored", len(states), world
        )
        return
    state = states[_rank()]
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The whole model's weights on CPU: gathered from shards under FSDP (all ranks must call)."""
    if not any(isinstance(p, DTensor) for p in model.parameters()):
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    state = get_model_state_dict(model, options=options)  # filled on rank 0 only
    return cast(dict[str, torch.Tensor], state)  # a model's state is all tensors (typed wider)


def save_pretrained(model: PreTrainedModel, tokenizer, out_dir: Path) -> Path:
    """One ``save_pretrained`` folder (rank 0 writes it), after checking the disk has room."""
    state = full_state_dict(model)
    if _rank() == 0:
        require_free_disk(out_dir, sum(t.numel() * t.element_size() for t in state.values()))
        model.save_pretrained(out_dir, state_dict=state)
        tokenizer.save_pretrained(out_dir)
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    return out_dir.resolve()


def consolidate(checkpoint: Path, empty_model: PreTrainedModel, out_dir: Path) -> Path:
    """A sharded checkpoint folder -> one HF folder, in one process, without a process group.

    ``empty_model`` is the backbone as the run built it (same config and vocabulary; on the meta
    device is best): the consolidated weights are assigned into it, then saved. A run's
    ``PeftModel`` (``adapter=lora``) is merged first, so the folder serves like any other.
    """
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

    if not is_complete(checkpoint) or not checkpoint.is_dir():
        raise FileNotFoundError(f"{checkpoint} is not a complete sharded checkpoint folder")
    loaded: dict = {}
    _load_state_dict(
        loaded,
        storage_reader=FileSystemReader(checkpoint),
        planner=_EmptyStateDictLoadPlanner(keys={"state_dict"}),  # weights only, no optimizer
        no_dist=True,
    )
    # Keys are the LightningModule's ("model." + HF's own); the metrics' states are not weights.
    weights = {
        key.removeprefix("model."): value
        for key, value in loaded["state_dict"].items()
        if key.startswith("model.")
    }
    require_free_disk(out_dir, sum(t.numel() * t.element_size() for t in weights.values()))
    empty_model.load_state_dict(weights, assign=True, strict=False)
    if isinstance(empty_model, PeftModel):
        empty_model = empty_model.merge_and_unload()
    empty_model.tie_weights()
    empty_model.save_pretrained(out_dir)
    return out_dir.resolve()


def require_free_disk(out_dir: Path, needed_bytes: int) -> None:
    """Refuse before writing, rather than leave half a model on a full disk."""
    existing = next(p for p in [Path(out_dir), *Path(out_dir).absolute().parents] if p.exists())
    free = shutil.disk_usage(existing).free
    if free < needed_bytes * _DISK_MARGIN:
        raise OSError(
            f"saving the model to {out_dir} needs ~{needed_bytes / 1e9:.1f} GB; only "
            f"{free / 1e9:.1f} GB free on {existing}. Free space or choose another output_dir"
        )
    Path(out_dir).mkdir(parents=True, exist_ok=True)


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
