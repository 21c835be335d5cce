"""One MLflow run per training job: flattened config as params, Hydra choices and git commit as tags.

The tracking store defaults to ``sqlite:///outputs/mlflow.db``; ``tracking.uri`` or
``MLFLOW_TRACKING_URI`` point it at a team server instead, with no other change.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflow.entities import Param
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import MLFlowLogger

log = logging.getLogger(__name__)

MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value's length (mlflow.utils.validation)
_PARAMS_PER_BATCH = 100  # MLflow's limit per log_batch call
_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|credential)", re.IGNORECASE)
REDACTED = "<redacted>"


def mlflow_logger(tracking: DictConfig, run_name: str | None, tags: dict[str, str]) -> MLFlowLogger:
    """The Lightning logger for this run; creates the experiment (artifacts under outputs/) if new."""
    artifact_root = Path(tracking.artifact_root).expanduser().resolve()
    logger = MLFlowLogger(
        experiment_name=tracking.experiment,
        run_name=run_name,
        tracking_uri=tracking.uri,
        tags=tags,
        artifact_location=artifact_root.as_uri(),
    )
    _ensure_sqlite_folder(tracking.uri)
    return logger


def ensure_experiment(tracking: DictConfig) -> tuple[MlflowClient, str]:
    """A client for ``tracking.uri`` and the id of ``tracking.experiment``, created as the logger would."""
    _ensure_sqlite_folder(tracking.uri)
    client = MlflowClient(tracking.uri)
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is not None:
        return client, experiment.experiment_id
    artifact_root = Path(tracking.artifact_root).expanduser().resolve()
    return client, client.create_experiment(tracking.experiment, artifact_root.as_uri())


def _ensure_sqlite_folder(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)


def flatten_params(config: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``a.b.c`` -> value strings, truncated to MLflow's limit, secret-looking keys redacted."""
    if isinstance(config, dict):
        for key, value in config.items():
            yield from flatten_params(value, f"{prefix}{key}.")
        return
    key = prefix.rstrip(".")
    if _SECRET_KEY.search(key.rsplit(".", 1)[-1]):
        yield key, REDACTED
        return
    text = str(config)
    if len(text) > MAX_PARAM_VALUE:
        text = text[: MAX_PARAM_VALUE - 3] + "..."
    yield key, text


def log_params(client: MlflowClient, run_id: str, resolved: dict) -> int:
    params = [Param(key, value) for key, value in flatten_params(resolved)]
    for start in range(0, len(params), _PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start : start + _PARAMS_PER_BATCH])
    return len(params)


def log_config_artifacts(
    client: MlflowClient, run_id: str, cfg: DictConfig, hydra_dir: Path | None
) -> None:
    """The resolved YAML (secrets redacted) and Hydra's own record of the overrides."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    client.log_text(run_id, OmegaConf.to_yaml(redact(resolved)), "config/resolved.yaml")
    if hydra_dir is not None and hydra_dir.is_dir():
        for name in ("overrides.yaml", "hydra.yaml"):
            if (hydra_dir / name).is_file():
                client.log_artifact(run_id, str(hydra_dir / name), "config")


def redact(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in config.items()}
    if isinstance(config, list):
        return [redact(v) for v in config]
    return config


def run_tags(choices: dict[str, str | None]) -> dict[str, str]:
    """Tags: each Hydra group choice (``group.model=tiny_llama``) and the source's git commit."""
    tags = {
        f"group.{group}": str(option)
        for group, option in choices.items()
        if not group.startswith("hydra")
    }
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    return tags


def git_commit() -> str | None:
    source = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None  # not a git checkout (e.g. installed from a wheel)
    return out.stdout.strip() or None
