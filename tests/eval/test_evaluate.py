"""`imitate.evaluate` end to end: the quick suite on a tiny random LLaMA, logged to a fresh MLflow store."""

import pytest
from mlflow.tracking import MlflowClient

from imitate import metrics
from imitate.eval.sandbox import namespaces_available
from imitate.evaluate import evaluate
from tests.conftest import compose_config
from tests.eval.conftest import FIXTURES


def test_quick_suite_runs_every_task_and_logs_the_run(tmp_path):
    # Only HumanEval needs the sandbox: without namespaces the other tasks still run and are checked.
    with_humaneval = namespaces_available()
    nq = FIXTURES / "nq"
    cfg = compose_config(
        [
            "model=tiny_llama",
            "eval=quick",
            f"output_dir={tmp_path / 'out'}",
            f"eval.results_cache={tmp_path / 'cache'}",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"tracking.artifact_root={tmp_path / 'artifacts'}",
            f"eval.tasks.mmlu.data={FIXTURES / 'mmlu'}",
            "eval.tasks.mmlu.subjects=[anatomy]",
            f"eval.tasks.nq.data={nq / 'test.jsonl'}",
            f"eval.tasks.nq.shots_data={nq / 'shots.jsonl'}",
            "eval.tasks.nq.max_new_tokens=4",
            "eval.tasks.humaneval.limit=2",
            "eval.tasks.humaneval.max_new_tokens=8",
            f"eval.tasks.rtp.data={FIXTURES / 'rtp'}",
            "eval.tasks.rtp.max_new_tokens=4",
        ]
        + ([] if with_humaneval else ["~eval.tasks.humaneval"]),
        config_name="evaluate",
    )
    results = evaluate(cfg)
    headline = [metrics.MMLU_ACC, metrics.NQ_EM, metrics.RTP_NONTOXICITY]
    headline += [metrics.HUMANEVAL_PASS_AT_1] if with_humaneval else []
    # Measured on the seeded tiny random LLaMA (MMLU or toxicity scoring stuck at 0 fails here; NQ
    # scoring is pinned in test_nq with a scripted answer sheet).
    pinned = {
        metrics.MMLU_ACC: 0.5,
        metrics.NQ_EM: 0.0,
        metrics.RTP_NONTOXICITY: 0.9636242479835305,
    }
    pinned |= {metrics.HUMANEVAL_PASS_AT_1: 0.0} if with_humaneval else {}
    assert {name: results[name] for name in headline} == pytest.approx(pinned, abs=1e-6)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    [run] = client.search_runs(client.get_experiment_by_name("imitate").experiment_id)
    assert {name: run.data.metrics[name] for name in headline} == pytest.approx(pinned, abs=1e-6)
    assert (tmp_path / "out" / "eval" / "humaneval.json").is_file() == with_humaneval
