"""The eval task protocol and `run_tasks`, the hook training and `imitate.evaluate` call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TaskResult:
    metrics: dict[str, float]
    records: list[dict]
    prompt_format: str
