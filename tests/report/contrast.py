"""`+sweep=mini_contrast` shrunk to a tiny model, then `python -m imitate.report`: the README's chain.

The real sweep's config with only sizes changed: tiny_llama instead of SmolLM2, two small budgets,
a fixture conversation file, the quick benchmarks on the eval fixtures; and the study's adapter axis
(``adapter=none,lora``, issue 19), so one report carries a series per adapter. Run once per test
session.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from imitate.report.__main__ import main
from imitate.tracking import cells
from tests.support.subprocess_run import mlflow_uri, run_imitate
from tests.sweep.grid import eval_overrides, write_conversations

EXPERIMENT = "mini_contrast"  # the sweep's own tracking.experiment, unchanged
BUDGETS = (512, 1024)
ADAPTERS = ("none", "lora")  # full fine-tuning and LoRA: each budget trained both ways
CONVERSATIONS = 40


@dataclass
class ContrastReport:
    uri: str
    parent: str
    out: Path
    page: Path
    sweep: subprocess.CompletedProcess

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.uri)


def tiny_sweep_args(workdir: Path, source: Path) -> list[str]:
    """`python -m imitate -m +sweep=mini_contrast` with tiny sizes (what the README runs on SmolLM2)."""
    budgets = ",".join(map(str, BUDGETS))
    return [
        "-m",
        "+experiment=smoke",  # tiny_llama, 64-token blocks, batch 8: seconds per cell
        "+sweep=mini_contrast",
        f"data.max_tokens={budgets}",  # replaces the sweep's own budgets
        f"adapter={','.join(ADAPTERS)}",  # one base row, a cell per budget and adapter
        f"data.sources.sharegpt.path={source}",
        f"hydra.sweep.dir={workdir / 'multirun'}",
        *eval_overrides(),
    ]


def build_contrast_report(workdir: Path) -> ContrastReport:
    workdir.mkdir(parents=True, exist_ok=True)
    uri = mlflow_uri(workdir)
    source = workdir / "conversations.jsonl"
    write_conversations(source, range(CONVERSATIONS))
    done = run_imitate(tiny_sweep_args(workdir, source), cwd=workdir, uri=uri, timeout_s=1200)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    [parent] = client.search_runs([experiment.experiment_id], f"tags.{cells.TAG_ROLE} = 'sweep'")
    out = workdir / "report"
    page = main([EXPERIMENT, "--tracking-uri", uri, "--out", str(out)])  # as the README says
    return ContrastReport(uri, parent.info.run_id, out, page, done)
