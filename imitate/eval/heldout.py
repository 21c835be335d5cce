"""Generations for held-out prompts beside the teacher's (ChatGPT's) reply: a first look at style."""

from __future__ import annotations

import torch

from imitate.data.format import ConversationEncoder


@torch.no_grad()
def generate_replies(
    model,
    tokenizer,
    encoder: ConversationEncoder,
    heldout: list[dict],
    max_new_tokens: int,
    batch_size: int = 4,
) -> list[dict]:
    """Greedy replies to each held-out dialogue; rows of prompt / model reply / teacher reply."""
    model.eval()
    rows = []
    for start in range(0, len(heldout), batch_size):
        chunk = heldout[start : start + batch_size]
        prompts = [encoder.encode_prompt(item["prompt_turns"]) for item in chunk]
        for item, reply in zip(
            chunk, _generate(model, tokenizer, encoder, prompts, max_new_tokens), strict=True
        ):
            rows.append(
                {
                    "id": item["id"],
                    "prompt": item["prompt_turns"][-1]["content"],
                    "model_reply": reply,
                    "teacher_reply": item["reference"],
                }
            )
    return rows


def _generate(
    model, tokenizer, encoder: ConversationEncoder, prompts: list[list[int]], max_new_tokens: int
) -> list[str]:
    # Left padding so every prompt ends right where generation starts.
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=model.device)
    attention = torch.tensor(
        [[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=model.device
    )
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=encoder.end_id,
        pad_token_id=pad,
    )
    return [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in output]
