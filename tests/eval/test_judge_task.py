"""The judge eval task (conf/eval/task/judge.yaml, imitate/judge/task.py): the tiny in-process model
judged by a scripted judge over HTTP, the skip line without a judge model, the configs that pick one."""

from __future__ import annotations

import logging

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.eval.style import StyleTask
from imitate.eval.task_result import TaskSkipped
from imitate.eval.tasks import run_tasks
from imitate.judge.task import HOW_TO_ENABLE, JudgeTask, judge_client
from tests.conftest import REPO, compose_config
from tests.judge.scripted import RULES, shown_replies
from tests.llm.loopback import LoopbackServer
from tests.support.judging import vicuna_like

PAIRWISE = OmegaConf.to_container(OmegaConf.load(REPO / "conf/judge/pairwise.yaml"))
MAX_NEW_TOKENS = 8


def scripted_judge(url: str) -> dict:
    return {"_target_": "imitate.llm.openai_client.OpenAIClient", "base_url": url, "model": "scripted-judge"}  # fmt: skip


def test_the_tiny_model_judged_over_http_on_the_style_tasks_replies(tiny_llm) -> None:
    with LoopbackServer(answer=RULES["prefer_longer"]) as server:
        task = JudgeTask(vicuna_like(), PAIRWISE, scripted_judge(server.url), MAX_NEW_TOKENS)
        result = task.run(tiny_llm)
        prompts = server.prompts()
    # the replies judged are the style task's generations for the same prompts, as generated
    style = StyleTask(vicuna_like(), MAX_NEW_TOKENS).run(tiny_llm)
    replies = {r["id"]: r["model_reply"] for r in style.records}
    assert [r["candidate"] for r in result.records] == [replies[i] for i in ("1", "2", "3")]
    assert len(prompts) == 6  # three answered fixture prompts, both orders
    assert {shown_replies(p)[0] for p in prompts} >= set(replies.values())
    # 8 random tokens are shorter than every teacher reply: the length-preferring judge says loss
    # in both orders for all three pairs
    outcomes = [(r["candidate_first_outcome"], r["reference_first_outcome"]) for r in result.records]  # fmt: skip
    assert outcomes == [("loss", "loss")] * 3
    assert result.metrics[metrics.JUDGE_WIN_RATE] == 0.0
    assert result.metrics[metrics.JUDGE_PREFERENCE] == 0.0
    assert result.metrics[metrics.JUDGE_CONSISTENCY] == 1.0
    assert result.metrics[metrics.JUDGE_UNPARSEABLE] == 0.0
    assert result.info["model"] == "openai:scripted-judge"
    assert result.info["outcome_loss"] == "3" and result.info["pairs"] == "3"
    assert [r["truncated"] for r in result.records] == [g["truncated"] for g in style.records]


class AnyModel:
    """Stands for the evaluated model: a skipped task never asks it anything but its fingerprint."""

    name = "any"

    def fingerprint(self) -> str:
        return "any"


def test_without_a_judge_model_the_task_is_skipped_with_one_line(tmp_path, caplog) -> None:
    with pytest.raises(TaskSkipped, match="eval.tasks.judge.llm=gpt-4o-mini"):
        JudgeTask(vicuna_like(), PAIRWISE).run(AnyModel())
    cfg = compose_config(["eval=paper"], config_name="evaluate").eval.tasks
    tasks = OmegaConf.create({"judge": OmegaConf.to_container(cfg.judge, resolve=True)})
    with caplog.at_level(logging.WARNING):
        done = run_tasks(tasks, AnyModel(), output_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert done.skipped == {"judge": HOW_TO_ENABLE} and done.metrics == {}
    assert [r.getMessage() for r in caplog.records] == [f"eval task judge skipped: {HOW_TO_ENABLE}"]


def test_eval_paper_has_the_judge_on_the_style_tasks_prompts_and_settings() -> None:
    tasks = compose_config(["eval=paper"], config_name="evaluate").eval.tasks
    assert tasks.judge.llm is None  # skipped unless a judge is set
    assert tasks.judge.prompts == tasks.style.prompts
    assert tasks.judge.max_new_tokens == tasks.style.max_new_tokens
    quick = compose_config(["eval=quick"], config_name="evaluate").eval.tasks
    assert (quick.judge.limit, quick.judge.max_new_tokens) == (quick.style.limit, quick.style.max_new_tokens)  # fmt: skip


def test_a_judge_is_selected_by_name_or_as_a_client_config(monkeypatch) -> None:
    named = compose_config(["eval=paper", "eval.tasks.judge.llm=gpt-4o-mini"], config_name="evaluate")  # fmt: skip
    assert named.eval.tasks.judge.llm == "gpt-4o-mini"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    client = judge_client("gpt-4o-mini")
    assert client.name == "openai:gpt-4o-mini"
    client.close()
    served = compose_config(
        ["eval=paper", "+llm@eval.tasks.judge.llm=local_server", "eval.tasks.judge.llm.model=mine"],
        config_name="evaluate",
    )
    assert served.eval.tasks.judge.llm.model == "mine"
    with pytest.raises(ValueError, match=r"valid: gpt-3.5-turbo, gpt-4o-mini, hf, local_server"):
        judge_client("gpt-5")
    with pytest.raises(ValueError, match=r"\['model'\] must be set"):
        judge_client("local_server")
    with pytest.raises(ValueError, match=r"\+llm@eval.tasks.judge.llm=hf"):
        judge_client("hf")
