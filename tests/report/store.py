"""Runs written to a fresh MLflow store as imitate's runs write them: tags, then metric_log's writer."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

from imitate.metric_log import log_metrics
from imitate.tracking import cells


def store(tmp_path, experiment: str = "imitate") -> tuple[MlflowClient, str, str]:
    """(client, experiment id, uri) of an empty sqlite store under ``tmp_path``."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    return client, client.create_experiment(experiment, (tmp_path / "artifacts").as_uri()), uri


def log_run(
    client: MlflowClient,
    experiment_id: str,
    tags: dict[str, str],
    values: dict[str, float],
    status: str = "FINISHED",
    start_time: int | None = None,
) -> str:
    """One run with ``tags``, ``values`` logged through the real writer, ended with ``status``."""
    run_id = client.create_run(experiment_id, start_time=start_time, tags=tags).info.run_id
    log_metrics(client, run_id, values)
    client.set_terminated(run_id, status)
    return run_id


def cell_tags(parent: str | None, role: str, model: str, parameters: int) -> dict[str, str]:
    """A sweep cell's tags as cells.cell_tags writes them (no parent: a run outside any sweep)."""
    tags = {cells.TAG_ROLE: role, "group.model": model, cells.TAG_PARAMETERS: str(parameters)}
    return tags | ({cells.TAG_PARENT: parent} if parent else {})
