"""Generations for held-out prompts beside the teacher's (ChatGPT's) reply: a first look at style."""

from __future__ import annotations

from imitate.llm.base import LLM, GenerationRequest


def generate_replies(llm: LLM, heldout: list[dict], max_new_tokens: int) -> list[dict]:
    """Greedy replies to each held-out dialogue; rows of prompt / model reply / teacher reply."""
    requests = [
        GenerationRequest(messages=tuple(item["prompt_turns"]), max_new_tokens=max_new_tokens)
        for item in heldout
    ]
    return [
        {
            "id": item["id"],
            "prompt": item["prompt_turns"][-1]["content"],
            "model_reply": replies[0].strip(),
            "teacher_reply": item["reference"],
        }
        for item, replies in zip(heldout, llm.generate(requests), strict=True)
    ]
