"""The eval task protocol and `run_tasks`, the hook training and `imitate.evaluate` call.

A task is any object built from `conf/eval/task/<name>.yaml` with a `run(model, tokenizer)`
method returning a TaskResult; metric names come from `imitate.metrics`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

log = logging.getLogger(__name__)


@dataclass
class TaskResult:
    metrics: dict[str, float]
    records: list[dict]
    prompt_format: str


def run_tasks(
    tasks_cfg: DictConfig,
    model,
    tokenizer,
    *,
    output_dir: Path,
    cache_key: str | None = None,
    cache_dir: Path | None = None,
) -> tuple[dict[str, float], dict[str, list[dict]]]:
    """Instantiate each task in tasks_cfg, run it, return (metrics, per-task per-example records).

    Results are cached under `cache_dir` (default $IMITATE_CACHE/eval) keyed by `cache_key`
    (default: a hash of the model's weights) and each task's config; every task's results also
    land in `output_dir/eval/<task>.json`.
    """
    from imitate.eval.cache import ResultCache, default_cache_dir, model_fingerprint, task_key

    cache = ResultCache(cache_dir or default_cache_dir())
    checkpoint = cache_key or model_fingerprint(model)
    all_metrics: dict[str, float] = {}
    all_records: dict[str, list[dict]] = {}
    for name, task_cfg in tasks_cfg.items():
        key = task_key(checkpoint, task_cfg, tokenizer)
        result = cache.get(key)
        if result is None:
            started = time.perf_counter()
            result = instantiate(task_cfg, _convert_="all").run(model, tokenizer)
            log.info("eval task %s took %.1f s", name, time.perf_counter() - started)
            cache.put(key, result)
        else:
            log.info("eval task %s: cached result %s", name, key[:12])
        write_task_json(Path(output_dir) / "eval" / f"{name}.json", result)
        all_metrics |= result.metrics
        all_records[str(name)] = result.records
    return all_metrics, all_records


def write_task_json(path: Path, result: TaskResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.__dict__, indent=1, default=str))
