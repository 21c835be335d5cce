"""run_tasks: instantiates tasks from config, caches per (checkpoint, task config), logs to MLflow."""

import json

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from imitate import metrics
from imitate.eval.results import log_results
from imitate.eval.task_result import TaskResult
from imitate.eval.tasks import run_tasks
from imitate.llm.base import LogprobsUnavailable
from imitate.llm.hf import weights_fingerprint
from tests.eval.conftest import tiny_llama

CALLS = []


class CountingTask:
    """Answers instantly and records that it ran."""

    prompt_format = "{x}"

    def __init__(self, value: float, items: list[int]):
        self.value, self.items = value, items

    def run(self, llm) -> TaskResult:
        CALLS.append(self.value)
        return TaskResult(
            {"count/value": self.value}, [{"item": i, "gold": [i, i]} for i in self.items], "{x}"
        )


class NamedModel:
    """Stands for a client: run_tasks only asks it for its fingerprint and name."""

    def __init__(self, fingerprint: str):
        self.name, self._fingerprint = f"fake:{fingerprint}", fingerprint

    def fingerprint(self) -> str:
        return self._fingerprint


class NeedsLogprobs:
    prompt_format = "-"

    def run(self, llm) -> TaskResult:
        raise LogprobsUnavailable("this endpoint returns no log-probs")


def tasks(value: float) -> OmegaConf:
    return OmegaConf.create(
        {"count": {"_target_": f"{__name__}.CountingTask", "value": value, "items": [1, 2]}}
    )


@pytest.fixture(autouse=True)
def reset_calls():
    CALLS.clear()


def test_results_are_cached_per_model_fingerprint_and_task_config(tmp_path):
    common = {"output_dir": tmp_path / "out", "cache_dir": tmp_path / "cache"}
    first = run_tasks(tasks(0.5), NamedModel("ckpt-1"), **common)
    again = run_tasks(tasks(0.5), NamedModel("ckpt-1"), **common)
    assert CALLS == [0.5] and first == again
    assert first.metrics == {"count/value": 0.5}
    assert first.records["count"][1] == {"item": 2, "gold": [2, 2]}
    run_tasks(tasks(0.7), NamedModel("ckpt-1"), **common)
    run_tasks(tasks(0.5), NamedModel("ckpt-2"), **common)
    assert CALLS == [0.5, 0.7, 0.5]
    saved = json.loads((tmp_path / "out" / "eval" / "count.json").read_text())
    assert saved["metrics"] == {"count/value": 0.5} and saved["prompt_format"] == "{x}"


def test_a_task_the_backend_cannot_run_is_refused_and_the_others_still_run(tmp_path):
    cfg = tasks(0.5)
    cfg.mmlu = {"_target_": f"{__name__}.NeedsLogprobs"}
    done = run_tasks(cfg, NamedModel("api"), output_dir=tmp_path, cache_dir=tmp_path / "c")
    assert done.metrics == {"count/value": 0.5}
    assert done.refused == {"mmlu": "this endpoint returns no log-probs"}
    assert "mmlu" not in done.records


def test_fingerprint_follows_the_weights_not_the_object():
    assert weights_fingerprint(tiny_llama(256, seed=1)) == weights_fingerprint(
        tiny_llama(256, seed=1)
    )
    assert weights_fingerprint(tiny_llama(256, seed=1)) != weights_fingerprint(
        tiny_llama(256, seed=2)
    )


def test_log_results_writes_metrics_tables_config_and_prompt_formats(tmp_path):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("t", artifact_location=(tmp_path / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    records = {"count": [{"item": 1, "gold": [1, 1]}, {"item": 2, "gold": [2]}]}
    info = {"count": {"lm_eval_version": "0.4.13", "config_sha256.t": "abc"}}
    log_results(client, run_id, {metrics.HUMANEVAL_PASS_AT_1: 0.5}, records, tasks(0.5), info=info)
    logged = client.get_run(run_id).data
    assert logged.metrics == {metrics.HUMANEVAL_PASS_AT_1: 0.5}
    assert logged.tags["eval.count.lm_eval_version"] == "0.4.13"
    assert logged.tags["eval.count.config_sha256.t"] == "abc"
    artifacts = tmp_path / "artifacts" / run_id / "artifacts" / "eval"
    table = json.loads((artifacts / "count.json").read_text())
    assert table["columns"] == ["item", "gold"] and table["data"][0] == [1, "[1, 1]"]
    assert "CountingTask" in (artifacts / "tasks.yaml").read_text()
    assert json.loads((artifacts / "prompt_formats.json").read_text()) == {"count": "{x}"}


def test_paper_suite_adds_the_four_benchmarks_beside_the_heldout_eval():
    from tests.conftest import compose_config

    assert compose_config().eval.tasks.style.prompts.name == "heldout"  # the run's own split
    cfg = compose_config(["eval=paper"]).eval
    assert set(cfg.tasks) == {"style", "mmlu", "nq", "humaneval", "rtp"}
    assert cfg.tasks.style.prompts.name == "vicuna80" and cfg.tasks.style.limit is None
    assert cfg.tasks.mmlu.shots == 5 and cfg.tasks.nq.shots == 3
    assert cfg.tasks.humaneval.n_samples == 1 and cfg.tasks.rtp.scorer == "profanity_check"
