"""Where artifacts go, the saved model's upload and its size guard, and the logger continuing a run."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.utils import JobReturn, JobStatus
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from imitate.tracking import mlflow_run
from imitate.tracking.sweep import cell_error


def _tracking(tmp_path: Path, **overrides):
    base = {
        "uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "experiment": "t",
        "artifact_root": None,
        "log_model": True,
        "log_model_max_gb": 2,
    }
    return OmegaConf.create(base | overrides)


def test_a_server_keeps_the_artifacts_a_local_store_keeps_them_under_outputs(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    local = mlflow_run.artifact_location(_tracking(tmp_path))
    assert local == (tmp_path / "outputs" / "mlartifacts").resolve().as_uri()
    for uri in ("http://127.0.0.1:5000", "https://mlflow.lab", "databricks"):
        assert mlflow_run.artifact_location(_tracking(tmp_path, uri=uri)) is None, uri
    chosen = _tracking(tmp_path, uri="https://mlflow.lab", artifact_root="s3://bucket/runs")
    assert mlflow_run.artifact_location(chosen) == "s3://bucket/runs"
    assert mlflow_run.artifact_location(_tracking(tmp_path, artifact_root="art")) == (
        (tmp_path / "art").resolve().as_uri()
    )


@pytest.fixture
def model_dir(tmp_path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"num_hidden_layers": 2}')
    (folder / "model.safetensors").write_bytes(b"\0" * 20_000)
    return folder


def _run(tracking) -> tuple[MlflowClient, str]:
    client, experiment_id = mlflow_run.ensure_experiment(tracking)
    return client, client.create_run(experiment_id).info.run_id


def test_the_saved_model_is_uploaded_to_the_run(tmp_path, model_dir) -> None:
    client, run_id = _run(_tracking(tmp_path))
    mlflow_run.log_saved_model(client, run_id, _tracking(tmp_path), model_dir)
    tags = client.get_run(run_id).data.tags
    assert tags[mlflow_run.TAG_MODEL_DIR] == str(model_dir)
    assert tags[mlflow_run.TAG_MODEL_ARTIFACT] == f"runs:/{run_id}/model"
    uploaded = {a.path for a in client.list_artifacts(run_id, "model")}
    assert uploaded == {"model/config.json", "model/model.safetensors"}


def test_a_model_over_the_size_guard_stays_on_disk_with_a_tag_saying_why(
    tmp_path, model_dir, caplog
) -> None:
    small_limit = _tracking(tmp_path, log_model_max_gb=0.00001)  # 10 kB < the 20 kB model
    client, run_id = _run(small_limit)
    mlflow_run.log_saved_model(client, run_id, small_limit, model_dir)
    tags = client.get_run(run_id).data.tags
    assert "tracking.log_model_max_gb=1e-05" in tags[mlflow_run.TAG_MODEL_NOT_LOGGED]
    assert str(model_dir) in tags[mlflow_run.TAG_MODEL_NOT_LOGGED]
    assert mlflow_run.TAG_MODEL_ARTIFACT not in tags
    assert client.list_artifacts(run_id) == []
    assert "not logged to MLflow" in caplog.text
    off = _tracking(tmp_path, log_model=False)
    client, run_id = _run(off)
    mlflow_run.log_saved_model(client, run_id, off, model_dir)
    assert "log_model=false" in client.get_run(run_id).data.tags[mlflow_run.TAG_MODEL_NOT_LOGGED]


def test_the_logger_continues_a_given_run_through_its_public_argument(tmp_path) -> None:
    tracking = _tracking(tmp_path)
    client, run_id = _run(tracking)
    logger = mlflow_run.rank_zero_mlflow_logger(tracking, None, {}, run_id)
    logger.log_metrics({"train/loss": 1.5}, step=3)
    assert logger.run_id == run_id
    assert client.get_run(run_id).data.metrics["train/loss"] == 1.5
    fresh = mlflow_run.rank_zero_mlflow_logger(tracking, "new", {"api_key": "sk-0123456789"}, None)
    assert fresh.run_id != run_id
    assert client.get_run(fresh.run_id).data.tags["api_key"] == "<redacted>"


def test_a_failed_cells_exception_comes_through_the_public_getter_silently(capsys) -> None:
    failed = JobReturn(overrides=["+judge.api_key=sk-0123456789"], status=JobStatus.FAILED)
    failed.return_value = ValueError("boom")
    error = cell_error(failed)
    assert isinstance(error, ValueError) and str(error) == "boom"
    assert "sk-0123456789" not in capsys.readouterr().err  # Hydra's getter prints the overrides


def test_a_lightning_stage_does_not_end_the_jobs_run(tmp_path) -> None:
    """Lightning finalizes loggers after every validate/fit; a job killed after one must still read
    as unfinished (a sweep rerun resumes it rather than skipping it as done)."""
    from pytorch_lightning import Trainer
    from pytorch_lightning.demos.boring_classes import BoringModel

    tracking = _tracking(tmp_path)
    logger = mlflow_run.rank_zero_mlflow_logger(tracking, "job", {}, None)
    trainer = Trainer(logger=logger, max_steps=1, limit_val_batches=1, enable_progress_bar=False,
                      enable_checkpointing=False, default_root_dir=tmp_path)  # fmt: skip
    trainer.validate(BoringModel(), verbose=False)
    client = MlflowClient(tracking.uri)
    assert client.get_run(logger.run_id).info.status == "RUNNING"
    mlflow_run.end_run(logger)
    assert client.get_run(logger.run_id).info.status == "FINISHED"
    failed = mlflow_run.rank_zero_mlflow_logger(tracking, "job", {}, None)
    assert failed.run_id is not None  # the run starts when first read
    failed.finalize("failed")  # Lightning's path for an exception inside a stage
    assert client.get_run(failed.run_id).info.status == "FAILED"
