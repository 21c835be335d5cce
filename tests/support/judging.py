"""The judge's fixture prompt set and readers of what a judge command logged to MLflow."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "judge"


def vicuna_like() -> dict:
    """The Vicuna-80 layout on four fixture questions (three answered)."""
    return {
        "name": "fixture_vicuna",
        "prompts": {
            "format": "fastchat_questions",
            "path": str(FIXTURES / "vicuna_questions.jsonl"),
        },
        "reference": {
            "format": "fastchat_answers",
            "path": str(FIXTURES / "vicuna_answers.jsonl"),
            "match": "id",
        },
        "second_reference": {
            "format": "alpaca_eval",
            "path": str(FIXTURES / "alpaca_outputs.json"),
            "dataset": "vicuna",
            "match": "text",
        },
    }


def only_run(cfg: DictConfig):
    client = MlflowClient(cfg.tracking.uri)
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    [run] = client.search_runs([experiment.experiment_id])
    return client, run


def table(client: MlflowClient, run_id: str, name: str) -> list[dict]:
    path = client.download_artifacts(run_id, f"judge/{name}.json")
    data = json.loads(Path(path).read_text())
    return [dict(zip(data["columns"], row, strict=True)) for row in data["data"]]
