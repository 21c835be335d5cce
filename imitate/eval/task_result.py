"""What every eval task returns, and the protocol tasks follow: a leaf module the rest imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from imitate.llm.base import LLM

# The info entry naming the artifact a task's records are logged as (else eval/<task>.json).
TABLE_INFO_KEY = "table"


@dataclass
class TaskResult:
    metrics: dict[str, float]
    records: list[dict]
    prompt_format: str
    info: dict[str, str] = field(default_factory=dict)  # versions, config hashes: logged as tags


class EvalTask(Protocol):
    """Built from `conf/eval/task/<name>.yaml`; metric names come from `imitate.metrics`."""

    name: str
    prompt_format: str

    def run(self, llm: LLM) -> TaskResult: ...
