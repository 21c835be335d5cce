"""The style eval task: generations through any LLM, Table 2 against the teacher, the generations table."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.eval.results import as_columns
from imitate.eval.style import StyleTask
from imitate.eval.tasks import run_tasks
from imitate.llm.openai_client import OpenAIClient
from imitate.style.generations import COLUMNS, read_table
from imitate.style.prompt_sets import read_generation_outputs, read_generations
from tests.conftest import compose_config
from tests.llm.loopback import LoopbackServer

HELDOUT_SET = {"name": "heldout", "prompts": {"format": "run_heldout"}, "reference": None}
HELDOUT = [  # as datamodule.heldout holds them: dialogue up to the first teacher reply
    {"id": "a", "prompt_turns": [{"role": "user", "content": "Name three colours."}],
     "reference": "echo: Name three colours."},
    {"id": "b", "prompt_turns": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Say hi."}],
     "reference": "Completely different words here."},
    {"id": "c", "prompt_turns": [{"role": "system", "content": "No user turn."}],
     "reference": "Dropped."},
]  # fmt: skip


@pytest.fixture
def server():
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def endpoint(server):
    """An OpenAI-compatible client on the echoing loopback server, no request cache."""
    client = OpenAIClient(server.url, model="echo-model", cache=None, timeout_s=5.0)
    yield client
    client.close()


def test_style_on_the_held_out_split_through_an_endpoint(endpoint, server) -> None:
    """The loopback server echoes the prompt: one reply equals the teacher's, one shares nothing."""
    result = StyleTask(HELDOUT_SET, max_new_tokens=32, heldout=HELDOUT).run(endpoint)
    # single-turn user prompts, sent at once (any arrival order)
    assert sorted(server.prompts()) == ["Name three colours.", "Say hi."]
    assert result.metrics[metrics.STYLE_UNIGRAM_F1] == pytest.approx(50.0)
    assert result.metrics[metrics.STYLE_EMPTY_REPLY_RATE] == 0.0
    assert result.metrics[metrics.STYLE_PROMPTS] == 2.0
    assert result.metrics[metrics.STYLE_PROMPTS_DROPPED] == 1.0  # "c" has no user turn
    assert metrics.STYLE_TRUNCATION_RATE not in result.metrics  # no tokenizer: cannot count
    assert [r["model_reply"] for r in result.records] == [
        "echo: Name three colours.",
        "echo: Say hi.",
    ]
    assert set(COLUMNS) <= set(result.records[0]) and result.records[0]["truncated"] is None
    assert result.info["table"] == "eval/generations.json"


def test_style_in_process_counts_truncated_replies(tiny_llm) -> None:
    """A random tiny model never stops on its own: every reply hits max_new_tokens."""
    result = StyleTask(HELDOUT_SET, max_new_tokens=6, heldout=HELDOUT[:2]).run(tiny_llm)
    assert result.metrics[metrics.STYLE_TRUNCATION_RATE] == 1.0
    assert [r["truncated"] for r in result.records] == [True, True]
    assert all(r["model_reply"] for r in result.records)


def test_heldout_prompts_without_a_training_run_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="held-out split and this run has none"):
        StyleTask(HELDOUT_SET).items(report=None)  # type: ignore[arg-type]


def test_run_tasks_caches_per_held_out_split(endpoint, server, tmp_path) -> None:
    tasks = OmegaConf.create({"style": compose_config().eval.tasks.style})
    tasks.style.max_new_tokens = 16
    llm = endpoint

    def run(heldout):
        return run_tasks(tasks, llm, output_dir=tmp_path, cache_dir=tmp_path / "c", heldout=heldout)

    first = run(HELDOUT)
    assert server.count == 2 and first.metrics[metrics.STYLE_UNIGRAM_F1] == pytest.approx(50.0)
    assert run(HELDOUT).metrics == first.metrics and server.count == 2  # cached: no request
    assert run(HELDOUT[:1]).metrics[metrics.STYLE_PROMPTS] == 1.0  # another split, another key
    assert len(list((tmp_path / "c").glob("*.json"))) == 2
    skipped = run(None)  # evaluate has no held-out split: refused with its reason, not a crash
    assert "held-out split" in skipped.refused["style"] and not skipped.metrics


def test_generations_table_round_trip(endpoint, server, tmp_path) -> None:
    """What the task records is what prompt sets (format: generations) and the rating app read."""
    rows = StyleTask(HELDOUT_SET, max_new_tokens=16, heldout=HELDOUT).run(endpoint).records
    path = tmp_path / "generations.json"
    table = as_columns(rows)  # as MlflowClient.log_table writes it
    path.write_text(
        json.dumps(
            {"columns": list(table), "data": [list(r) for r in zip(*table.values(), strict=True)]}
        )
    )
    assert [r["model_reply"] for r in read_table(path)] == [
        "echo: Name three colours.",
        "echo: Say hi.",
    ]
    assert [r.reply for r in read_generations(path)] == [h["reference"] for h in HELDOUT[:2]]
    assert [r.id for r in read_generation_outputs(path)] == ["a", "b"]
    from imitate.rate.pairs import read_pairs

    assert [p.output for p in read_pairs(path)] == [
        "echo: Name three colours.",
        "echo: Say hi.",
    ]
