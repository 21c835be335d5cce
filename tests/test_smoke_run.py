"""`python -m imitate +experiment=smoke` end to end, then MLflow holds everything the run promised."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from transformers import AutoModelForCausalLM

from imitate import metrics
from tests.conftest import SHARED_DATA
from tests.support.subprocess_run import mlflow_uri, run_imitate

# With the shared benchmark data beside the repo, the smoke run also runs the quick benchmark
# suite after training, which proves the eval.tasks hook end to end.
WITH_BENCHMARKS = SHARED_DATA.is_dir()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[MlflowClient, object, str]:
    workdir = tmp_path_factory.mktemp("smoke")
    uri = mlflow_uri(workdir)
    done = run_imitate(
        ["+experiment=smoke", f"hydra.run.dir={workdir}/run"]
        + (["eval=quick"] if WITH_BENCHMARKS else []),
        cwd=workdir,
        uri=uri,
        timeout_s=600,
    )
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("smoke")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return client, runs[0], done.stdout + done.stderr


def test_run_finished_with_params_and_tags(smoke_run) -> None:
    _, run, _ = smoke_run
    assert run.info.status == "FINISHED"
    assert run.data.params["model.backbone.config.num_hidden_layers"] == "2"
    assert run.data.params["data.block_size"] == "64"
    assert run.data.params["optim.lr"] == "0.01"
    assert run.data.tags["group.model"] == "tiny_llama"
    assert run.data.tags["group.data"] == "sharegpt"


def test_losses_and_data_counts_are_logged(smoke_run) -> None:
    client, run, _ = smoke_run
    for name in (
        metrics.VAL_LOSS,
        metrics.HELDOUT_LOSS,
        metrics.HELDOUT_PERPLEXITY,
        metrics.TRAIN_LOSS,
    ):
        assert name in run.data.metrics, name
    assert run.data.metrics["data/recovered_from_truncated_json"] == 17_671
    assert run.data.metrics["data/skipped_other_model"] > 0
    for per_step in (metrics.TRAIN_LOSS, metrics.LEARNING_RATE, metrics.TOKENS_PER_SECOND):
        history = client.get_metric_history(run.info.run_id, per_step)
        assert len(history) == 2, per_step  # once per optimizer step, not per micro-batch


def test_config_and_generations_are_artifacts(smoke_run, tmp_path) -> None:
    client, run, _ = smoke_run
    config_files = {a.path for a in client.list_artifacts(run.info.run_id, "config")}
    assert {"config/resolved.yaml", "config/overrides.yaml"} <= config_files
    resolved = Path(
        client.download_artifacts(run.info.run_id, "config/resolved.yaml", str(tmp_path))
    ).read_text()
    assert "block_size: 64" in resolved
    eval_files = {a.path for a in client.list_artifacts(run.info.run_id, "eval")}
    assert "eval/generations.json" in eval_files


def test_base_and_trained_model_are_scored_at_step_0_and_the_last_step(smoke_run) -> None:
    """Every training run scores the base model before fit and the trained one after, same names."""
    client, run, stdout = smoke_run
    for name in (metrics.HELDOUT_LOSS, metrics.STYLE_EMPTY_REPLY_RATE, metrics.STYLE_UNIGRAM_F1):
        history = client.get_metric_history(run.info.run_id, name)
        assert sorted(m.step for m in history) == [0, 2], name
        assert run.data.metrics[name] == max(history, key=lambda m: m.step).value  # the trained
    assert "Before -> after training" in stdout and metrics.STYLE_UNIGRAM_F1 in stdout


def test_progress_lines_when_stdout_is_not_a_terminal(smoke_run) -> None:
    _, _, output = smoke_run  # captured: a pipe, as under nohup, SLURM or CI
    final = r"^step 2/2 \(100%\) loss \d+\.\d{4} \d+ tokens/s elapsed 0:\d\d:\d\d ETA 0:00:00$"
    assert re.search(final, output, flags=re.MULTILINE), output[-3000:]


def test_a_default_run_prints_no_deprecation_warning(smoke_run) -> None:
    _, _, output = smoke_run
    assert [line for line in output.splitlines() if "deprecat" in line.lower()] == []


def test_saved_model_is_referenced_and_loads(smoke_run) -> None:
    _, run, stdout = smoke_run
    model_dir = Path(run.data.tags["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.config.num_hidden_layers == 2
    assert "mlflow ui" in stdout and str(model_dir) in stdout


@pytest.mark.skipif(not WITH_BENCHMARKS, reason=f"shared benchmark data not found at {SHARED_DATA}")
def test_benchmarks_run_after_training_in_the_same_run(smoke_run) -> None:
    client, run, _ = smoke_run
    for name in (
        metrics.MMLU_ACC,
        metrics.NQ_EM,
        metrics.HUMANEVAL_PASS_AT_1,
        metrics.RTP_NONTOXICITY,
    ):
        assert name in run.data.metrics, name
    eval_files = {a.path for a in client.list_artifacts(run.info.run_id, "eval")}
    assert {"eval/mmlu.json", "eval/tasks.yaml", "eval/prompt_formats.json"} <= eval_files
