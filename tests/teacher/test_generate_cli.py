"""`python -m imitate.generate`: its config composes for each job, and a run logs to MLflow."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hydra.utils import get_object
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf, open_dict

from imitate.generate import generate
from tests.conftest import REPO, compose_config
from tests.support.subprocess_run import run_imitate

FIXTURES = REPO / "tests" / "fixtures" / "teacher"
TEACHER = ["llm=local_server", "llm.model=served"]


@pytest.mark.parametrize("job", ["nq_synthetic", "collect"])
def test_each_job_composes_with_a_teacher_and_binds_its_signature(job: str) -> None:
    cfg = compose_config([*TEACHER, f"generate={job}"], config_name="generate")
    node = OmegaConf.to_container(cfg.generate, resolve=False)
    kwargs = {k: v for k, v in node.items() if not k.startswith("_")}
    inspect.signature(get_object(node["_target_"])).bind(**kwargs)


def test_a_run_writes_the_dataset_and_logs_manifest_and_ledger_to_mlflow(tmp_path: Path) -> None:
    cfg = compose_config(
        [
            *TEACHER,
            f"generate.output={tmp_path}/nq.jsonl",
            f"generate.seed_file={FIXTURES}/nq_seed.jsonl",
            f"generate.exclude_questions=[{FIXTURES}/nq_eval.jsonl]",
            "generate.n_examples=8",
            f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
            f"tracking.artifact_root={tmp_path}/artifacts",
        ],
        config_name="generate",
    )
    with open_dict(cfg):
        cfg.llm = {"_target_": "tests.teacher.scripted.ScriptedLLM"}
    manifest = generate(cfg)
    assert (
        manifest["counts"]["accepted"] == 8 == len((tmp_path / "nq.jsonl").read_text().splitlines())
    )
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [run] = client.search_runs([client.get_experiment_by_name("imitate").experiment_id])
    assert run.data.tags["kind"] == "generate" and run.info.status == "FINISHED"
    assert run.data.metrics["llm/requests"] == manifest["counts"]["requests"]
    logged = (
        Path(run.info.artifact_uri.removeprefix("file://")) / "generate/nq_synthetic.manifest.json"
    )
    assert json.loads(logged.read_text())["counts"] == manifest["counts"]


def test_the_cli_asks_for_a_teacher(tmp_path: Path) -> None:
    done = run_imitate(
        [],
        module="imitate.generate",
        cwd=tmp_path,  # Hydra makes its run folder before the check refuses the config
        uri=None,
        timeout_s=600,  # an interpreter importing torch, on a loaded 2-core machine
        check=False,
    )
    assert done.returncode != 0
    assert "generate: choose a llm option: llm=<name> (conf/llm/)" in done.stderr


def test_an_in_process_hf_teacher_runs_the_job(tmp_path: Path) -> None:
    cfg = compose_config(
        [
            "llm=hf",
            "model=tiny_llama",
            "~tracking",
            f"generate.output={tmp_path}/nq.jsonl",
            f"generate.seed_file={FIXTURES}/nq_seed.jsonl",
            f"generate.exclude_questions=[{FIXTURES}/nq_eval.jsonl]",
            "generate.n_examples=2",
            "generate.max_requests=2",
            "generate.batch_size=2",
            "generate.max_new_tokens=8",
        ],
        config_name="generate",
    )
    manifest = generate(cfg)
    counts = manifest["counts"]
    assert counts["requests"] == 2 and manifest["teacher"]["name"].startswith("hf:")
    assert counts["candidates"] == counts["accepted"] + sum(counts["rejected"].values())
    assert len((tmp_path / "nq.jsonl").read_text().splitlines()) == counts["accepted"]
