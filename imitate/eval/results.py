"""Log eval results to an MLflow run: metrics, one table per task, the task configs and prompt formats."""

from __future__ import annotations

import json

from hydra.utils import instantiate
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from imitate.eval.task_result import TABLE_INFO_KEY
from imitate.metric_log import log_metrics
from imitate.redact import redact


def log_results(
    client: MlflowClient,
    run_id: str,
    metrics: dict[str, float],
    records: dict[str, list[dict]],
    tasks_cfg: DictConfig,
    step: int = 0,
    info: dict[str, dict[str, str]] | None = None,
) -> None:
    """Metrics through the one writer (names as in imitate.metrics), then the tables and configs.

    `info` (per task: versions, config hashes) becomes `eval.<task>.<key>` tags.
    """
    log_metrics(client, run_id, metrics, step=step)
    for task, values in (info or {}).items():
        for key, value in values.items():
            client.set_tag(run_id, f"eval.{task}.{key}", redact(value))
    for name, rows in records.items():
        if rows:  # a task may name its table's artifact (the style task: eval/generations.json)
            table = (info or {}).get(name, {}).get(TABLE_INFO_KEY, f"eval/{name}.json")
            client.log_table(run_id, as_columns(rows), table)
    resolved = redact(OmegaConf.to_container(tasks_cfg, resolve=True))  # a task may hold a key
    client.log_text(run_id, OmegaConf.to_yaml(OmegaConf.create(resolved)), "eval/tasks.yaml")
    client.log_dict(run_id, prompt_formats(tasks_cfg), "eval/prompt_formats.json")


def before_after_table(before: dict[str, float], after: dict[str, float]) -> str:
    """The base model's value beside the trained model's for every headline metric both have."""
    names = [n for n in after if n in before and n.count("/") == 1]  # not per-subject rows
    width = max((len(n) for n in names), default=0)
    lines = [f"  {n:<{width}}  {before[n]:10.4f} -> {after[n]:10.4f}" for n in names]
    return (
        "\nBefore -> after training (base model at step 0, trained model at the last step):\n"
        + "\n".join(lines)
    )


def as_columns(rows: list[dict]) -> dict[str, list]:
    """Column-wise table; lists and dicts become JSON strings so every cell is a scalar."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return {key: [_cell(row.get(key)) for row in rows] for key in keys}


def prompt_formats(tasks_cfg: DictConfig) -> dict[str, str]:
    # Task constructors only store their options (data is read in run), so building them is cheap.
    return {
        str(name): instantiate(cfg, _convert_="all").prompt_format
        for name, cfg in tasks_cfg.items()
    }


def _cell(value):
    return json.dumps(value) if isinstance(value, list | dict) else value
