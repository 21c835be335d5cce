"""Teacher jobs as the teacher tests build them: NQ-synthetic and collect on the fixture files."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from imitate.data.conversations import normalise_all
from imitate.data.report import DataReport
from imitate.data.source_formats import SourceConfig, read_source
from imitate.teacher.collect import CollectJob
from imitate.teacher.nq_synthetic import NQSyntheticJob
from tests.conftest import REPO, compose_config

FIXTURES = REPO / "tests" / "fixtures" / "teacher"
PROMPT = OmegaConf.load(REPO / "conf" / "generate" / "nq_synthetic.yaml").prompt


def make_job(output: Path, **overrides) -> NQSyntheticJob:
    settings = {
        "output": str(output),
        "prompt": PROMPT,
        "seed_file": str(FIXTURES / "nq_seed.jsonl"),
        "exclude_questions": [str(FIXTURES / "nq_eval.jsonl")],
        "n_examples": 30,
        "batch_size": 3,
    }
    return NQSyntheticJob(**(settings | overrides))


def jsonl_job(output: Path, **overrides) -> CollectJob:
    settings = {
        "prompts": str(FIXTURES / "prompts.jsonl"),
        "output": str(output),
        "fields": {"prompt": "text", "system": "sys", "id": "uid"},
        "batch_size": 2,
    }
    return CollectJob(**(settings | overrides))


def read_as_data_nq_synthetic(output: Path) -> list[dict]:
    """The conversations `python -m imitate data=nq_synthetic` builds from `output`; no skips."""
    cfg = compose_config(["data=nq_synthetic", f"data.sources.nq_synthetic.path={output}"])
    source = SourceConfig(**OmegaConf.to_container(cfg.data.sources.nq_synthetic, resolve=True))
    report = DataReport()
    conversations = list(normalise_all(read_source(source, report), "nq_synthetic", report))
    assert not any(key.startswith("skipped") for key in report.counts), report.counts
    return conversations
