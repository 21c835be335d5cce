"""A prompt, a model's output and the teacher's reply to it: what the judge and the style metrics compare.

A leaf module, so that both ``imitate.style`` and ``imitate.judge`` read the same record. Kept
apart on purpose: ``style.prompt_sets.PromptItem`` (a prompt and its teacher replies, before any
model output exists), ``judge.calibration.LabelledPair`` (two unordered outputs and a human label,
neither one the reference) and ``rate.pairs.Pair`` (the rating app's file and SQLite row, whose
field names are that file format's and which records the model's run).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyPair:
    """One prompt with a model's output and the teacher's reference reply to the same prompt."""

    id: str
    prompt: str
    output: str
    reference: str
