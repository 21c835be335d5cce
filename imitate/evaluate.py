"""``python -m imitate.evaluate model=<name>|checkpoint=<dir>|llm=<endpoint> eval=paper [role=teacher]``.

Benchmarks without training; ``role=teacher`` makes the run the report's measured teacher row.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from imitate import metrics
from imitate.config_hints import run_with_hints
from imitate.config_schema import checked_task
from imitate.eval.results import log_results
from imitate.eval.tasks import run_tasks
from imitate.llm.base import LLM
from imitate.llm.hf import load_hf_client
from imitate.llm.ledger import log_usage
from imitate.tracking import mlflow_run
from imitate.tracking.teacher_run import check_role, evaluate_tags

log = logging.getLogger(__name__)


@hydra.main(config_path="pkg://imitate.conf", config_name="evaluate", version_base="1.3")
@checked_task("evaluate")  # before a model loads or an endpoint is paid
def main(cfg: DictConfig) -> dict[str, float]:
    return evaluate(cfg)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Build the client, run every task in ``cfg.eval.tasks``, log all of it to a new MLflow run."""
    check_role(cfg.get("role"))  # before a model loads or an endpoint is paid
    torch.manual_seed(cfg.seed)
    llm = build_llm(cfg)
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    tags = mlflow_run.run_tags(dict(choices)) | evaluate_tags(cfg.get("role"), llm.name)
    logger = mlflow_run.mlflow_logger(cfg.tracking, cfg.run_name, tags)
    client, run_id = logger.experiment, logger.run_id
    assert run_id is not None, "reading logger.experiment starts the run"
    mlflow_run.log_params(client, run_id, mlflow_run.resolved_dict(cfg))
    try:
        tasks = run_tasks(
            cfg.eval.tasks,
            llm,
            output_dir=Path(cfg.output_dir),
            cache_dir=Path(cfg.eval.results_cache).expanduser(),
        )
    except BaseException:
        logger.finalize("failed")
        raise
    finally:  # what an endpoint cost is logged even when a budget or an error stopped the run
        usage = log_usage(client, run_id, llm)
    for name, why in tasks.refused.items():
        client.set_tag(run_id, f"eval.refused.{name}", why[:250])
    for name, how in tasks.skipped.items():
        client.set_tag(run_id, f"eval.skipped.{name}", how[:250])
    log_results(client, run_id, tasks.metrics, tasks.records, cfg.eval.tasks, info=tasks.info)
    logger.end_run()
    _print_summary(tasks.metrics | usage, tasks.refused, tasks.skipped)
    return tasks.metrics | usage


def build_llm(cfg: DictConfig) -> LLM:
    """`llm=<option>` when given (an endpoint, or `hf`), else the `model` group / `checkpoint` in process."""
    if cfg.get("llm") is not None:
        return instantiate(cfg.llm)
    return load_hf_client(
        cfg.model.backbone, cfg.model.tokenizer, checkpoint=cfg.checkpoint, **cfg.eval.client
    )


def _print_summary(
    results: dict[str, float], refused: dict[str, str], skipped: dict[str, str]
) -> None:
    # per-subject MMLU rows (57 of them) stay in MLflow and eval/mmlu.json
    lines = [
        f"{k} = {v:.4f}"
        for k, v in sorted(results.items())
        if not k.startswith(metrics.MMLU_ACC_SUBJECT)
    ]
    lines += [f"{name}: refused ({why})" for name, why in refused.items()]
    lines += [f"{name}: skipped ({how})" for name, how in skipped.items()]
    print("\n".join(lines))


def cli() -> None:
    run_with_hints(main)  # a refused config also prints the valid keys and the closest match


if __name__ == "__main__":
    cli()
