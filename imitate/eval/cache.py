"""Eval results cached per (checkpoint, tokenizer, task config), so reruns and sweep cells reuse them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from imitate.eval.tasks import TaskResult

# Bump when a change to scoring makes earlier cached numbers incomparable.
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get("IMITATE_CACHE", "~/.cache/imitate")).expanduser() / "eval"


@torch.no_grad()
def model_fingerprint(model: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer: identical weights give the same key, wherever they came from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def task_key(checkpoint_key: str, task_cfg: DictConfig, tokenizer) -> str:
    task = OmegaConf.to_container(task_cfg, resolve=True)
    tokenizer_id = [
        type(tokenizer).__name__,
        getattr(tokenizer, "name_or_path", ""),
        len(tokenizer),
    ]
    blob = json.dumps(
        [CACHE_VERSION, checkpoint_key, task, tokenizer_id], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """One JSON file per key under `root`; written atomically so parallel sweep cells can share it."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def get(self, key: str) -> TaskResult | None:
        path = self.root / f"{key}.json"
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
            return TaskResult(saved["metrics"], saved["records"], saved["prompt_format"])
        except (json.JSONDecodeError, KeyError):
            return None  # a damaged entry is recomputed, not trusted

    def put(self, key: str, result: TaskResult) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{key}.{os.getpid()}.tmp"
        partial.write_text(json.dumps(result.__dict__, default=str))
        partial.replace(self.root / f"{key}.json")
