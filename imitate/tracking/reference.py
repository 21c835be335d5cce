"""Teacher reference rows: a proprietary model's known scores, entered from conf/reference/<name>.yaml."""

from __future__ import annotations

import hashlib
import json

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from imitate import metrics
from imitate.tracking import cells

TAG_TEACHER = "teacher"


def known_metric_names() -> list[str]:
    """Every full metric name defined in imitate.metrics (prefix constants end in '/' or '@')."""
    names = [v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)]
    return sorted(n for n in names if not n.endswith(("/", "@")))


def reference_scores(reference: DictConfig) -> dict[str, float]:
    """``{metric: value}`` for the entries with a value; unknown metric names are refused."""
    valid = known_metric_names()
    scores = {}
    for index, entry in enumerate(reference.get("scores") or []):
        if entry.metric not in valid:
            raise ValueError(
                f"reference {reference.get('name')!r}: scores[{index}].metric={entry.metric!r} is "
                f"not a metric name; valid names (imitate/metrics.py): {', '.join(valid)}"
            )
        if entry.get("value") is not None:
            scores[entry.metric] = float(entry.value)
    return scores


def record_teacher(
    client: MlflowClient, experiment_id: str, parent_run_id: str, reference: DictConfig
) -> str:
    """A FINISHED child run with role=teacher holding the reference scores, once per sweep."""
    scores = reference_scores(reference)
    content = OmegaConf.to_container(reference, resolve=True)
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    existing = cells.latest_child(client, experiment_id, parent_run_id, digest)
    if existing is not None:
        return existing.info.run_id
    tags = {
        cells.TAG_PARENT: parent_run_id,
        cells.TAG_ROLE: cells.ROLE_TEACHER,
        cells.TAG_CONFIG_HASH: digest,
        TAG_TEACHER: str(reference.name),
    }
    run = client.create_run(experiment_id, run_name=f"teacher {reference.name}", tags=tags)
    run_id = run.info.run_id
    client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in scores.items()])
    client.log_text(run_id, OmegaConf.to_yaml(content), "reference.yaml")  # with sources
    client.set_terminated(run_id, "FINISHED")
    return run_id
