"""Eval results cached per (model fingerprint, task config), so reruns and sweep cells reuse them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from imitate.eval.task_result import TaskResult
from imitate.llm.base import stable_hash

# Bump when a change to scoring makes earlier cached numbers incomparable.
# 2: tasks run through the LLM client (fingerprints cover the tokenizer's chat template).
# 3: metric names as MLflow stores them (humaneval/pass_at_1, mmlu/subject_acc/<subject>).
CACHE_VERSION = 3


def task_key(model_fingerprint: str, task_cfg: DictConfig, inputs: dict | None = None) -> str:
    """One key per (model, task options, run inputs such as the held-out split); the client's
    fingerprint covers weights and tokenizer."""
    task = OmegaConf.to_container(task_cfg, resolve=True)
    return stable_hash([CACHE_VERSION, model_fingerprint, task] + ([inputs] if inputs else []))


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
            return TaskResult(
                saved["metrics"], saved["records"], saved["prompt_format"], saved.get("info", {})
            )
        except (json.JSONDecodeError, KeyError):
            return None  # a damaged entry is recomputed, not trusted

    def put(self, key: str, result: TaskResult) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{key}.{os.getpid()}.tmp"
        partial.write_text(json.dumps(result.__dict__, default=str))
        partial.replace(self.root / f"{key}.json")
