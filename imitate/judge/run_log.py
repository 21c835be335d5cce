"""Where the judge's and the style commands' results go: a new MLflow run, or an existing one.

This is the entry point's layer (like ``imitate.evaluate``): the judge and style libraries never
import it. Metrics go through the one writer (``imitate.metric_log``), tables through the eval
results' column helper, so the report reads them as it reads every other metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from imitate.eval.results import as_columns
from imitate.metric_log import log_metrics
from imitate.redact import redact
from imitate.tracking import mlflow_run

ARTIFACT_DIR = "judge"


def open_run(cfg: DictConfig, tags: Mapping[str, str]) -> tuple[MlflowClient, str, bool]:
    """``(client, run id, created)``: ``cfg.log.run_id`` when set (e.g. a sweep cell), else a new run."""
    if cfg.log.run_id:
        client = MlflowClient(cfg.tracking.uri)
        client.get_run(cfg.log.run_id)  # a clear MLflow error when the id is not in this store
        keep = {k: v for k, v in tags.items() if k != "mlflow.parentRunId"}  # never re-parent
        mlflow_run.set_tags(client, cfg.log.run_id, keep)
        return client, cfg.log.run_id, False
    client, experiment_id = mlflow_run.ensure_experiment(cfg.tracking)
    commit = mlflow_run.git_commit()
    run = client.create_run(
        experiment_id,
        run_name=cfg.run_name,
        tags=dict(tags) | {"kind": "judge"} | ({"git_commit": commit} if commit else {}),
    )
    run_id = run.info.run_id
    mlflow_run.log_params(client, run_id, plain(cfg))
    return client, run_id, True


def plain(node: Any) -> dict[str, Any]:
    """A resolved config node as a plain dict (what MLflow, kwargs and the readers take)."""
    return dict(OmegaConf.to_container(node, resolve=True))  # type: ignore[arg-type]


def write_results(
    client: MlflowClient,
    run_id: str,
    command: str,
    values: Mapping[str, float],
    tables: Mapping[str, list[dict]],
    summaries: Mapping[str, dict[str, Any] | None],
    cfg: DictConfig,
) -> None:
    """Metrics, one table artifact per entry of ``tables``, JSON summaries and the resolved config."""
    log_metrics(client, run_id, values)
    for name, rows in tables.items():
        if rows:
            client.log_table(run_id, as_columns(rows), f"{ARTIFACT_DIR}/{command}_{name}.json")
    for name, summary in summaries.items():
        if summary is not None:
            client.log_dict(run_id, summary, f"{ARTIFACT_DIR}/{command}_{name}.json")
    resolved = redact(OmegaConf.to_container(cfg, resolve=True))
    client.log_text(run_id, OmegaConf.to_yaml(resolved), f"{ARTIFACT_DIR}/{command}_config.yaml")
