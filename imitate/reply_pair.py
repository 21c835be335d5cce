"""A prompt, a model's output and the teacher's reply to it: what the judge, the style metrics and raters compare.

A leaf module, so that ``imitate.style``, ``imitate.judge`` and ``imitate.rate`` read the same
record. The rating app's file and SQLite columns (``instruction``, ``output_model``,
``output_teacher``) are mapped to these fields in one place, ``imitate.rate.pairs``. Kept apart on
purpose: ``style.prompt_sets.PromptItem`` (a prompt and its teacher replies, before any model
output exists) and ``judge.calibration.LabelledPair`` (two unordered outputs and a human label,
neither one the reference).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyPair:
    """One prompt with a model's output and the teacher's reference reply to the same prompt.

    ``model_run_id`` is the MLflow run of the model that wrote ``output``, where known: the rating
    app logs each run's human preference back to it.
    """

    id: str
    prompt: str
    output: str
    reference: str
    model_run_id: str | None = None
