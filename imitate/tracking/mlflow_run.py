"""One MLflow run per training job: flattened config as params, Hydra choices and git commit as tags.

The tracking store defaults to ``sqlite:///outputs/mlflow.db``, with artifacts in
``outputs/mlartifacts``. With ``tracking.uri`` or ``MLFLOW_TRACKING_URI`` at a team's tracking
server (http/https), artifacts go to the server's own store (``mlflow-artifacts:``, proxied by the
server) unless ``tracking.artifact_root`` names a location. Everything written here passes through
``imitate.redact.redact``: no secret reaches a param, a tag or an artifact.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlflow.entities import Param
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import MLFlowLogger
from pytorch_lightning.loggers.logger import DummyLogger
from pytorch_lightning.utilities import rank_zero_only

from imitate.redact import REDACTED as REDACTED  # re-exported: imitate.report.collect reads it here
from imitate.redact import redact, secret_values

log = logging.getLogger(__name__)

MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value's length (mlflow.utils.validation)
_PARAMS_PER_BATCH = 100  # MLflow's limit per log_batch call
LOCAL_ARTIFACT_ROOT = "outputs/mlartifacts"  # beside the default sqlite store, for local stores
_SERVER_SCHEMES = ("http", "https", "databricks")  # stores whose server keeps the artifacts
TAG_MODEL_DIR = "model_dir"  # the saved model on the disk of the machine that trained it
TAG_MODEL_ARTIFACT = "model_artifact"  # runs:/<id>/model when the model was uploaded to the run
TAG_MODEL_NOT_LOGGED = "model_not_logged"  # why it was not (too large, or tracking.log_model off)
MODEL_ARTIFACT_PATH = "model"


def rank_zero_mlflow_logger(
    tracking: DictConfig, run_name: str | None, tags: dict[str, str], run_id: str | None = None
):
    """Rank 0's MLflow logger (continuing ``run_id`` when given); other ranks get a no-op logger.

    Only one process may talk to MLflow: ranks creating a sqlite store at once race on its schema.
    """
    if rank_zero_only.rank != 0:  # type: ignore[attr-defined]  # set by Lightning, undeclared
        return DummyLogger()
    return mlflow_logger(tracking, run_name, tags, run_id)


class JobLogger(MLFlowLogger):
    """An MLflow logger whose run ends when the job ends, not when one of its Lightning stages does.

    Lightning finalizes its loggers with "success" at the end of every ``validate`` and ``fit``. A
    training job runs several (the base model's evaluation at step 0, fit, the final evaluation):
    a run marked FINISHED after the first would read as a finished sweep cell if the job were then
    killed, and a rerun would skip it instead of resuming. Failures still end the run at once.
    """

    def finalize(self, status: str = "success") -> None:
        if status != "success":
            super().finalize(status)

    def end_run(self) -> None:
        """Mark the run FINISHED: the job's last step."""
        super().finalize("success")


def end_run(logger: JobLogger | DummyLogger) -> None:
    """Finish rank 0's run (other ranks hold a no-op logger)."""
    if isinstance(logger, JobLogger):
        logger.end_run()


def mlflow_logger(
    tracking: DictConfig, run_name: str | None, tags: dict[str, str], run_id: str | None = None
) -> JobLogger:
    """The Lightning logger for this run; creates the experiment (artifacts per ``artifact_location``) if new."""
    logger = JobLogger(
        experiment_name=tracking.experiment,
        run_name=redact(run_name),
        tracking_uri=tracking.uri,
        tags=redact(tags),
        artifact_location=artifact_location(tracking),
        run_id=run_id,
    )
    _ensure_sqlite_folder(tracking.uri)
    return logger


def artifact_location(tracking: DictConfig) -> str | None:
    """Where a new experiment keeps artifacts: ``tracking.artifact_root`` if set, else the store's default.

    ``None`` (a tracking server's own proxied store) for http/https/databricks URIs; local stores
    (sqlite, file) keep them in ``outputs/mlartifacts`` under the working directory.
    """
    root = tracking.get("artifact_root")
    if root is None:
        if is_tracking_server(tracking.uri):
            return None
        root = LOCAL_ARTIFACT_ROOT
    if len(urlparse(str(root)).scheme) > 1:  # s3://, mlflow-artifacts:/, file:// (not C:\)
        return str(root)
    return Path(root).expanduser().resolve().as_uri()


def is_tracking_server(uri: str) -> bool:
    """A remote tracking server (http/https/databricks), as opposed to a local sqlite or file store."""
    return (urlparse(str(uri)).scheme or str(uri)) in _SERVER_SCHEMES  # bare "databricks" too


def ensure_experiment(tracking: DictConfig) -> tuple[MlflowClient, str]:
    """A client for ``tracking.uri`` and the id of ``tracking.experiment``, created as the logger would."""
    _ensure_sqlite_folder(tracking.uri)
    client = MlflowClient(tracking.uri)
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is not None:
        return client, experiment.experiment_id
    return client, client.create_experiment(tracking.experiment, artifact_location(tracking))


def _ensure_sqlite_folder(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)


def flatten_params(config: Any) -> Iterator[tuple[str, str]]:
    """``a.b.c`` -> value strings, secrets redacted, truncated to MLflow's limit."""
    for key, value in _flatten(redact(config)):
        text = str(value)
        if len(text) > MAX_PARAM_VALUE:
            text = text[: MAX_PARAM_VALUE - 3] + "..."
        yield key, text


def _flatten(config: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if not isinstance(config, dict):
        yield prefix.rstrip("."), config
        return
    for key, value in config.items():
        yield from _flatten(value, f"{prefix}{key}.")


def resolved_dict(cfg: DictConfig) -> dict:
    """The config as plain dicts and lists, interpolations resolved."""
    content = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(content, dict), "a DictConfig converts to a dict"
    return content


def log_params(client: MlflowClient, run_id: str, resolved: dict) -> int:
    params = [Param(key, value) for key, value in flatten_params(resolved)]
    for start in range(0, len(params), _PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start : start + _PARAMS_PER_BATCH])
    return len(params)


def set_tags(
    client: MlflowClient, run_id: str, tags: dict[str, str], known: Iterable[str] = ()
) -> None:
    """Tags on an existing run, secrets redacted (``known``: secrets the caller already holds)."""
    for key, value in redact(tags, known).items():
        client.set_tag(run_id, key, value)


def log_config_artifacts(
    client: MlflowClient, run_id: str, cfg: DictConfig, hydra_dir: Path | None
) -> None:
    """The resolved YAML and Hydra's own record of the overrides, secrets redacted in each."""
    resolved = resolved_dict(cfg)
    known = secret_values(resolved)
    client.log_text(run_id, OmegaConf.to_yaml(redact(resolved)), "config/resolved.yaml")
    if hydra_dir is not None and hydra_dir.is_dir():
        for name in ("overrides.yaml", "hydra.yaml"):
            if (hydra_dir / name).is_file():
                client.log_text(run_id, redacted_yaml(hydra_dir / name, known), f"config/{name}")


def redacted_yaml(path: Path, known: Iterable[str] = ()) -> str:
    """A YAML file's text with its secrets redacted (read without resolving interpolations)."""
    content = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    return OmegaConf.to_yaml(redact(content, known))


def log_saved_model(
    client: MlflowClient, run_id: str, tracking: DictConfig, model_dir: Path
) -> None:
    """Tag where the saved model is; upload it to the run unless it exceeds ``log_model_max_gb``.

    Uploaded, a teammate gets it from the server (``runs:/<id>/model``); a 7B/13B model is never
    uploaded by accident: above the limit the run says why and where the model stays instead.
    """
    set_tags(client, run_id, {TAG_MODEL_DIR: str(model_dir)})
    size_gb = sum(f.stat().st_size for f in Path(model_dir).rglob("*") if f.is_file()) / 1e9
    limit = tracking.log_model_max_gb
    if not tracking.log_model:
        reason = f"tracking.log_model=false; the model is at {model_dir}"
    elif limit is not None and size_gb > limit:
        reason = (
            f"{size_gb:.2f} GB > tracking.log_model_max_gb={limit}; the model stays at "
            f"{model_dir} (raise the limit to upload it)"
        )
        log.warning("saved model not logged to MLflow: %s", reason)
    else:
        client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACT_PATH)
        set_tags(client, run_id, {TAG_MODEL_ARTIFACT: f"runs:/{run_id}/{MODEL_ARTIFACT_PATH}"})
        return
    set_tags(client, run_id, {TAG_MODEL_NOT_LOGGED: reason})


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
