"""`run_tasks`: the hook training and `imitate.evaluate` call to run `eval.tasks` on any LLM client.

A task is any object built from `conf/eval/task/<name>.yaml` with a `run(llm)` method returning a
TaskResult (`imitate.eval.task_result`); metric names come from `imitate.metrics`. A task that is
not configured to run raises TaskSkipped: one log line saying how to enable it, nothing cached.
Tasks that generate the model's replies to a prompt set (style, judge: `SharesReplies`) share
one `ReplyShelf` per evaluation, so each reply is generated once, whichever of them asks first.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imitate.eval.cache import ResultCache, task_key
from imitate.eval.task_result import REPLIES_INFO_KEY, SharesReplies, TaskResult, TaskSkipped
from imitate.llm.base import LLM, LogprobsUnavailable
from imitate.style.generations import ReplyShelf
from imitate.style.prompt_sets import RUN_HELDOUT

log = logging.getLogger(__name__)


@dataclass
class TaskRun:
    """What `run_tasks` returns: all metrics, per-task records, and tasks the backend cannot run."""

    metrics: dict[str, float] = field(default_factory=dict)
    records: dict[str, list[dict]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # task name -> why
    skipped: dict[str, str] = field(default_factory=dict)  # task name -> how to enable it
    info: dict[str, dict[str, str]] = field(default_factory=dict)  # task name -> versions, hashes


def run_tasks(
    tasks_cfg: DictConfig,
    llm: LLM,
    *,
    output_dir: Path,
    cache_dir: Path,
    heldout: list[dict] | None = None,
) -> TaskRun:
    """Instantiate each task in tasks_cfg, run it on `llm`, cache and write its results.

    Results are cached under `cache_dir` keyed by the client's fingerprint and each task's config;
    every task's results also land in `output_dir/eval/<task>.json`. A task the backend cannot
    run (MMLU on an endpoint without log-probs) is refused with its reason; the others still run.
    `heldout`: a training run's held-out split, given to tasks on `prompts=heldout` (and keyed).
    """
    run = TaskRun()
    if not tasks_cfg:
        return run  # nothing to key: hashing a sharded model's weights would gather them for naught
    cache = ResultCache(cache_dir)
    fingerprint = llm.fingerprint()
    shelf = ReplyShelf()  # one model's replies, shared by the tasks that generate them
    for config_key, task_cfg in tasks_cfg.items():
        name = str(config_key)
        inputs = run_inputs(task_cfg, heldout)
        if inputs is None:
            reason = "prompts=heldout is a training run's held-out split; this run has none"
            log.error("eval task %s skipped: %s (choose e.g. prompts=vicuna80)", name, reason)
            run.refused[name] = reason
            continue
        key = task_key(fingerprint, task_cfg, inputs)
        result = cache.get(key)
        if result is None:
            result = run_task(name, task_cfg, inputs, llm, shelf, run)
            if result is None:
                continue
            cache.put(key, result)
        else:
            log.info("eval task %s: cached result %s", name, key[:12])
            if REPLIES_INFO_KEY in result.info:  # its replies serve later tasks as if generated now
                shelf.put(result.info[REPLIES_INFO_KEY], result.records, name)
        write_task_json(Path(output_dir) / "eval" / f"{name}.json", result)
        run.metrics |= result.metrics
        run.records[name] = result.records
        if result.info:
            run.info[name] = result.info
    return run


def run_task(
    name: str, task_cfg: DictConfig, inputs: dict, llm: LLM, shelf: ReplyShelf, run: TaskRun
) -> TaskResult | None:
    """Build the task, hand it the evaluation's replies if it generates some, run it on `llm`;
    None when the backend refuses it or it is not configured to run (recorded in `run`)."""
    started = time.perf_counter()
    try:
        task = instantiate(task_cfg, _convert_="all", **inputs)
        if isinstance(task, SharesReplies):
            task.share_replies(shelf)
        result = task.run(llm)
    except LogprobsUnavailable as refusal:
        log.error("eval task %s refused on %s: %s", name, llm.name, refusal)
        run.refused[name] = str(refusal)
        return None
    except TaskSkipped as skip:
        log.warning("eval task %s skipped: %s", name, skip)
        run.skipped[name] = str(skip)
        return None
    log.info("eval task %s took %.1f s", name, time.perf_counter() - started)
    return result


def run_inputs(task_cfg: DictConfig, heldout: list[dict] | None) -> dict | None:
    """What a task gets from the run besides its config: the held-out split for prompts=heldout
    (None when it needs one and the run has none)."""
    if OmegaConf.select(task_cfg, "prompts.prompts.format") != RUN_HELDOUT:
        return {}
    return None if heldout is None else {"heldout": heldout}


def write_task_json(path: Path, result: TaskResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.__dict__, indent=1, default=str))
