"""What every eval task returns, and the protocol tasks follow: a leaf module the rest imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from imitate.llm.base import LLM
from imitate.style.generations import ReplyShelf

# The info entry naming the artifact a task's records are logged as (else eval/<task>.json).
TABLE_INFO_KEY = "table"
# The info entry of a task whose records are generations-table rows: their ``replies_key``. A
# cached result carrying it still hands its replies to later tasks (``run_tasks``).
REPLIES_INFO_KEY = "replies"


@dataclass
class TaskResult:
    metrics: dict[str, float]
    records: list[dict]
    prompt_format: str
    info: dict[str, str] = field(default_factory=dict)  # versions, config hashes: logged as tags


class TaskSkipped(Exception):
    """Raised by a task's ``run`` when it is not configured to run (e.g. no judge model): the
    message says how to enable it; run_tasks logs it as one line and goes on with the others."""


class EvalTask(Protocol):
    """Built from `conf/eval/task/<name>.yaml`; metric names come from `imitate.metrics`."""

    name: str
    prompt_format: str

    def run(self, llm: LLM) -> TaskResult: ...


@runtime_checkable
class SharesReplies(Protocol):
    """A task that generates the model's replies to a prompt set (style, judge): ``run_tasks``
    hands it the evaluation's ``ReplyShelf`` before ``run``, so tasks on the same prompts and
    settings generate each reply once, whichever runs first."""

    def share_replies(self, shelf: ReplyShelf) -> None: ...
