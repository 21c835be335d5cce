"""The style eval task (paper Table 2): the model answers a prompt set; replies scored against the teacher's.

Built from ``conf/eval/task/style.yaml``. Its records are the generations table
(``imitate.style.generations``) with each prompt's style features, logged as
``eval/generations.json``: what the rating app and ``python -m imitate.judge`` read. The replies
come from the evaluation's ``ReplyShelf`` (``share_replies``), which the judge task reads too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from imitate import metrics
from imitate.data.report import DataReport
from imitate.eval.task_result import REPLIES_INFO_KEY, TABLE_INFO_KEY, TaskResult
from imitate.llm.base import LLM
from imitate.reply_pair import ReplyPair
from imitate.style.generations import GENERATIONS_ARTIFACT, ReplyShelf, replies_key
from imitate.style.prompt_sets import RUN_HELDOUT, PromptItem, build_prompt_set, heldout_items
from imitate.style.similarity import score_style


class StyleTask:
    name = "style"
    prompt_format = "chat: each prompt as one user turn through the model's chat template; greedy"

    def __init__(
        self,
        prompts: Mapping,
        max_new_tokens: int = 384,
        limit: int | None = None,
        heldout: Sequence[Mapping] | None = None,
        repetition_penalty: float = 1.0,
    ):
        self.prompts, self.max_new_tokens, self.limit = dict(prompts), max_new_tokens, limit
        self.repetition_penalty = repetition_penalty
        self.heldout = None if heldout is None else [dict(item) for item in heldout]
        self.shelf = ReplyShelf()  # this task's own until run_tasks shares the evaluation's

    def share_replies(self, shelf: ReplyShelf) -> None:
        self.shelf = shelf

    def generations(self, llm: LLM, items: Sequence[PromptItem], task: str) -> list[dict]:
        """The model's replies to ``items`` as generations-table rows, generated once per evaluation."""
        return self.shelf.replies(
            llm, items, self.max_new_tokens, self.repetition_penalty,
            prompt_set=self.prompt_set, task=task,
        )  # fmt: skip

    @property
    def prompt_set(self) -> str:
        return str(self.prompts.get("name"))

    def items(self, report: DataReport) -> list[PromptItem]:
        """The prompt set's items (the run's held-out split for ``prompts=heldout``), first ``limit``."""
        if self.prompts.get("prompts", {}).get("format") == RUN_HELDOUT:
            if self.heldout is None:
                raise ValueError(
                    f"eval task style: prompts={self.prompts.get('name')} is a training run's "
                    "held-out split and this run has none (only `python -m imitate` does); choose "
                    "a prompt set with files, e.g. prompts=vicuna80"
                )
            items = heldout_items(self.heldout, report)
        else:
            items = build_prompt_set(self.prompts, report)
        if self.limit is not None:
            items = items[: self.limit]
        if not items:
            raise ValueError(f"eval task style: prompts={self.prompts.get('name')} has no prompts")
        return items

    def run(self, llm: LLM) -> TaskResult:
        report = DataReport()
        items = self.items(report)
        generations = self.generations(llm, items, self.name)
        pairs = [
            ReplyPair(row["id"], row["prompt"], row["model_reply"], row["teacher_reply"])
            for row in generations
        ]
        features, values = score_style(pairs)
        counted = [row["truncated"] for row in generations if row["truncated"] is not None]
        if counted:  # an endpoint without a tokenizer cannot say
            values[metrics.STYLE_TRUNCATION_RATE] = sum(counted) / len(counted)
        values[metrics.STYLE_PROMPTS] = float(len(items))
        values[metrics.STYLE_PROMPTS_DROPPED] = float(
            sum(n for key, n in report.counts.items() if key.startswith(("dropped_", "skipped_")))
        )
        records = [g | {k: v for k, v in f.items() if k not in g} for g, f in zip(generations, features, strict=True)]  # fmt: skip
        key = replies_key(self.prompt_set, items, self.max_new_tokens, self.repetition_penalty)
        info = {"prompts": self.prompt_set, TABLE_INFO_KEY: GENERATIONS_ARTIFACT, REPLIES_INFO_KEY: key}  # fmt: skip
        return TaskResult(values, records, self.prompt_format, info)
