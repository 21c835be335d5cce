"""Style and judge in one evaluation generate each model reply once (imitate.style.generations.ReplyShelf).

The evaluated model is the echoing loopback endpoint, so every reply it generates is one request
it records; the judge is a scripted loopback judge. The fixture prompt set has three answered
prompts: an evaluation that generated them twice would show six requests.
"""

from __future__ import annotations

import logging
from functools import cache

import pytest
from omegaconf import DictConfig, OmegaConf

from imitate import metrics
from imitate.eval.tasks import run_tasks
from imitate.llm.openai_client import OpenAIClient
from tests.conftest import compose_config
from tests.eval.test_judge_task import scripted_judge
from tests.judge.scripted import RULES
from tests.llm.loopback import LoopbackServer
from tests.support.judging import vicuna_like

# the fixture's answered prompts, as the model is asked them
PROMPTS = ["How can I sleep better?", "What are the causes of  inflation?", "Write a Python function that reverses a list."]  # fmt: skip
SHELF_LOG = "imitate.style.generations"


@pytest.fixture
def model():
    """The evaluated model: an echoing endpoint that records each reply it generates."""
    with LoopbackServer() as server:
        client = OpenAIClient(server.url, model="echo-model", cache=None, timeout_s=5.0)
        yield client, server
        client.close()


@pytest.fixture
def judge():
    with LoopbackServer(answer=RULES["prefer_longer"]) as server:
        yield server


def paper_tasks(judge_url: str, names: tuple[str, ...] = ("style", "judge")) -> DictConfig:
    """eval=paper's style and judge tasks (the judge tied to style's prompts and settings by
    interpolation) on the fixture prompts, with the scripted judge."""
    tasks = OmegaConf.create({"style": paper().style, "judge": paper().judge})
    tasks.style.prompts = vicuna_like()
    tasks.style.max_new_tokens = 16
    tasks.judge.llm = scripted_judge(judge_url)
    resolved = OmegaConf.to_container(tasks, resolve=True)  # the ties hold without style too
    return OmegaConf.create({name: resolved[name] for name in names})


@cache
def paper() -> DictConfig:
    return compose_config(["eval=paper"], config_name="evaluate").eval.tasks


def shelf_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SHELF_LOG]


def test_style_and_judge_generate_each_reply_once(model, judge, tmp_path, caplog) -> None:
    llm, server = model
    with caplog.at_level(logging.INFO, logger=SHELF_LOG):
        done = run_tasks(paper_tasks(judge.url), llm, output_dir=tmp_path, cache_dir=tmp_path / "c")
    assert sorted(server.prompts()) == sorted(PROMPTS)  # three replies, each generated once
    assert judge.count == 6  # three pairs, both orders
    judged = [r["candidate"] for r in done.records["judge"]]
    assert judged == [r["model_reply"] for r in done.records["style"]] == [f"echo: {p}" for p in PROMPTS]  # fmt: skip
    assert done.metrics[metrics.STYLE_PROMPTS] == 3.0 and done.info["judge"]["pairs"] == "3"
    key = "fixture_vicuna: 3 prompts #"
    [generated, reused] = shelf_lines(caplog)
    assert generated.startswith(f"eval task style: generating replies for {key}")
    assert generated.endswith("(no earlier task in this evaluation generated replies)")
    assert reused.startswith(f"eval task judge: reusing the style task's 3 replies ({key}")
    assert done.info["style"]["replies"] in reused


def test_the_judge_reuses_a_cached_style_result(model, judge, tmp_path, caplog) -> None:
    """The judge enabled after a run that scored style only: the cached style replies serve it."""
    llm, server = model
    cache = tmp_path / "c"
    style_only = run_tasks(paper_tasks(judge.url, ("style",)), llm, output_dir=tmp_path, cache_dir=cache)  # fmt: skip
    assert server.count == 3
    with caplog.at_level(logging.INFO, logger=SHELF_LOG):
        both = run_tasks(paper_tasks(judge.url), llm, output_dir=tmp_path, cache_dir=cache)
    assert server.count == 3 and judge.count == 6  # style cached; the judge generated nothing
    assert both.metrics | style_only.metrics == both.metrics
    assert shelf_lines(caplog) == [
        f"eval task judge: reusing the style task's 3 replies ({style_only.info['style']['replies']})"
    ]


def test_without_the_style_task_the_judge_generates_them_itself(model, judge, tmp_path, caplog) -> None:  # fmt: skip
    llm, server = model
    with caplog.at_level(logging.INFO, logger=SHELF_LOG):
        alone = run_tasks(paper_tasks(judge.url, ("judge",)), llm, output_dir=tmp_path, cache_dir=tmp_path / "a")  # fmt: skip
    assert sorted(server.prompts()) == sorted(PROMPTS)
    [line] = shelf_lines(caplog)
    assert line.startswith("eval task judge: generating replies for fixture_vicuna: 3 prompts #")
    assert line.endswith("(no earlier task in this evaluation generated replies)")
    # the same verdicts as on the style task's replies: reuse changes no cached judge result
    with_style = run_tasks(paper_tasks(judge.url), llm, output_dir=tmp_path, cache_dir=tmp_path / "b")  # fmt: skip
    assert with_style.records["judge"] == alone.records["judge"]
    assert with_style.metrics | alone.metrics == with_style.metrics


def test_other_generation_settings_are_generated_again_and_said(model, judge, tmp_path, caplog) -> None:  # fmt: skip
    llm, server = model
    tasks = paper_tasks(judge.url)
    tasks.judge.max_new_tokens = 32  # no longer the style task's 16
    with caplog.at_level(logging.INFO, logger=SHELF_LOG):
        run_tasks(tasks, llm, output_dir=tmp_path, cache_dir=tmp_path / "c")
    assert sorted(server.prompts()) == sorted(PROMPTS * 2)
    [_, regenerated] = shelf_lines(caplog)
    assert "eval task judge: generating replies for fixture_vicuna: 3 prompts #" in regenerated
    assert "max_new_tokens=32, repetition_penalty=1.2; the replies generated earlier" in regenerated
    assert regenerated.endswith("max_new_tokens=16, repetition_penalty=1.2)")
    assert "are for other prompts or settings (style: fixture_vicuna: 3 prompts #" in regenerated
