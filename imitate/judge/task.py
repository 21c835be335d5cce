"""The pairwise judge as an eval task (paper Fig. 1/3): the model's replies vs the teacher's, both orders.

Built from ``conf/eval/task/judge.yaml``. The replies are the style task's: the same prompt set,
the same generation function and settings (``imitate.style.generations.generate_replies``,
greedy), so the judged texts are the ones Table 2 scores and the rating app shows. In one
evaluation they are the style task's very rows (``run_tasks`` shares one ``ReplyShelf``): generated
here only when the style task did not run on these prompts and settings (a log line says which).
The judge model is the task's ``llm``: a ``conf/llm`` option name (``eval.tasks.judge.llm=gpt-4o-mini``) or
a client config (``+llm@eval.tasks.judge.llm=local_server eval.tasks.judge.llm.model=<name>``).
Without one the task is skipped with a line saying so (``TaskSkipped``), never a silent gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imitate.data.report import DataReport
from imitate.eval.style import StyleTask
from imitate.eval.task_result import TaskResult, TaskSkipped
from imitate.judge.candidates import release
from imitate.judge.length_control import judged_values
from imitate.judge.outcomes import outcome_counts
from imitate.judge.pairwise import PairwiseJudge
from imitate.llm.base import LLM
from imitate.reply_pair import ReplyPair
from imitate.style.generations import ReplyShelf

HOW_TO_ENABLE = (
    "no judge model; enable with eval.tasks.judge.llm=gpt-4o-mini (any conf/llm option) or a "
    "served model: +llm@eval.tasks.judge.llm=local_server eval.tasks.judge.llm.model=<name>"
)


class JudgeTask:
    name = "judge"
    prompt_format = "pairwise judge (conf/judge/pairwise.yaml) of greedy chat replies vs the teacher's, both orders"  # fmt: skip

    def __init__(
        self,
        prompts: Mapping,
        pairwise: Mapping,
        llm: str | Mapping | None = None,
        max_new_tokens: int = 384,
        limit: int | None = None,
        heldout: Sequence[Mapping] | None = None,
        repetition_penalty: float = 1.0,
    ):
        # The style task's own prompt loading (its prompt set, limit and held-out split).
        held = None if heldout is None else [_plain(item) for item in heldout]
        self.replies = StyleTask(_plain(prompts), max_new_tokens, limit, held, repetition_penalty)
        self.pairwise = _plain(pairwise)
        self.llm = llm

    def share_replies(self, shelf: ReplyShelf) -> None:
        self.replies.share_replies(shelf)

    def run(self, llm: LLM) -> TaskResult:
        if self.llm is None:
            raise TaskSkipped(HOW_TO_ENABLE)
        judge_llm = judge_client(self.llm)  # before generating: a bad judge config fails fast
        try:
            report = DataReport()
            items = self.replies.items(report)
            generations = self.replies.generations(llm, items, self.name)
            pairs = [
                ReplyPair(g["id"], g["prompt"], g["model_reply"], g["teacher_reply"])
                for g in generations
            ]
            rows = PairwiseJudge(judge_llm, **self.pairwise).judge(pairs)
        finally:
            release(judge_llm)
        values, _ = judged_values(rows)
        for row, generated in zip(rows, generations, strict=True):
            row["truncated"] = generated["truncated"]
        counts = outcome_counts(rows) | dict(report.counts)
        info = {"model": judge_llm.name} | {
            k: str(v) for k, v in counts.items()
        }  # eval.judge.* tags
        return TaskResult(values, rows, self.prompt_format, info)


def judge_client(spec: str | Mapping) -> LLM:
    """The judge model from a conf/llm option name or a client config."""
    if isinstance(spec, str):
        spec = llm_option(spec)
    missing = OmegaConf.missing_keys(OmegaConf.create(_plain(spec)))
    if missing:
        raise ValueError(
            f"eval.tasks.judge.llm: {sorted(missing)} must be set, e.g. "
            "+llm@eval.tasks.judge.llm=local_server eval.tasks.judge.llm.model=<served name>"
        )
    return instantiate(spec)


def llm_option(name: str) -> dict:
    """``conf/llm/<name>.yaml`` as a client config (interpolations resolved on their own)."""
    folder = resources.files("imitate.conf") / "llm"
    options = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))  # fmt: skip
    if name not in options:
        raise ValueError(
            f"eval.tasks.judge.llm={name!r} is not a conf/llm option; valid: {', '.join(options)}"
        )
    try:
        return _plain(OmegaConf.to_container(_composed_option(name), resolve=True))
    except Exception as error:  # e.g. llm=hf reads ${model.backbone}: only the tree has it
        raise ValueError(
            f"eval.tasks.judge.llm={name}: the option needs the rest of the config ({error}); "
            f"select it as a group instead: +llm@eval.tasks.judge.llm={name}"
        ) from error


def _composed_option(name: str) -> DictConfig:
    """The option as Hydra composes it (its defaults list: conf/llm/base), outside the run's tree."""
    overrides = [f"+llm={name}"]
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app: its own search path
        return compose(overrides=overrides).llm
    with initialize_config_module("imitate.conf", version_base=None):
        return compose(overrides=overrides).llm


def _plain(value) -> dict:
    if isinstance(value, DictConfig):
        return dict(OmegaConf.to_container(value, resolve=True))  # type: ignore[arg-type]
    return dict(value)
