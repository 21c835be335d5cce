"""Batched model calls the eval tasks share: next-token log-probs with a reused prefix, generation."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch


def context_length(model, override: int | None = None) -> int:
    """Tokens the model attends over: `override`, else the config's max_position_embeddings."""
    if override is not None:
        return override
    length = getattr(model.config, "max_position_embeddings", None)
    if length is None:
        raise ValueError(
            f"{type(model).__name__}.config has no max_position_embeddings; "
            "set the task's `max_length` to the model's context length"
        )
    return int(length)


def candidate_token_ids(tokenizer, candidates: Sequence[str]) -> list[int]:
    """The single token each candidate string (e.g. " A") is encoded as after a prompt."""
    ids = []
    for text in candidates:
        tokens = tokenizer(text, add_special_tokens=False).input_ids
        if not tokens or tokenizer.decode(tokens[-1:]).strip() != text.strip():
            raise ValueError(f"candidate {text!r} is not one token for {type(tokenizer).__name__}")
        ids.append(tokens[-1])
    return ids


def shared_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Longest common token prefix, leaving each sequence at least one token of its own."""
    first = sequences[0]
    limit = min(len(s) for s in sequences) - 1
    length = 0
    while length < limit and all(s[length] == first[length] for s in sequences):
        length += 1
    return length


@torch.inference_mode()
def next_token_logprobs(
    model, prompts: Sequence[Sequence[int]], candidates: Sequence[int], batch_size: int = 16
) -> torch.Tensor:
    """log p(candidate | prompt) for each prompt: the common prefix runs once, suffixes in batches.

    Returns a float tensor [len(prompts), len(candidates)].
    """
    model.eval()
    prefix_len = shared_prefix_length(prompts)
    prefix_cache = None
    if prefix_len:
        prefix = torch.tensor([list(prompts[0][:prefix_len])], device=model.device)
        prefix_cache = model(input_ids=prefix, use_cache=True).past_key_values
    # Batches of similar-length suffixes waste little on padding; results go back in prompt order.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    scores = torch.empty(len(prompts), len(candidates))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        suffixes = [list(prompts[i][prefix_len:]) for i in batch]
        logits = _last_logits(model, suffixes, prefix_cache, prefix_len)
        scores[batch] = torch.log_softmax(logits.float(), dim=-1)[:, list(candidates)].cpu()
    return scores


def _last_logits(model, suffixes: list[list[int]], prefix_cache, prefix_len: int) -> torch.Tensor:
    """Logits after each suffix's last token, right-padding the batch to its longest suffix."""
    width = max(len(s) for s in suffixes)
    ids = torch.zeros(len(suffixes), width, dtype=torch.long)
    mask = torch.zeros(len(suffixes), prefix_len + width, dtype=torch.long)
    mask[:, :prefix_len] = 1
    for i, s in enumerate(suffixes):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, prefix_len : prefix_len + len(s)] = 1
    cache = None
    if prefix_cache is not None:
        cache = copy.deepcopy(prefix_cache)  # the forward appends to it
        cache.batch_repeat_interleave(len(suffixes))
    positions = torch.arange(prefix_len, prefix_len + width).expand(len(suffixes), -1)
    out = model(
        input_ids=ids.to(model.device),
        attention_mask=mask.to(model.device),
        position_ids=positions.to(model.device),
        past_key_values=cache,
        use_cache=cache is not None,
    )
    last = torch.tensor([len(s) - 1 for s in suffixes], device=model.device)
    return out.logits[torch.arange(len(suffixes), device=model.device), last]


@torch.inference_mode()
def next_token_logprobs_one_by_one(
    model, prompts: Sequence[Sequence[int]], candidates: Sequence[int]
) -> torch.Tensor:
    """The straightforward scorer: one full forward per prompt. The reference for tests and bench."""
    model.eval()
    rows = []
    for prompt in prompts:
        logits = model(input_ids=torch.tensor([list(prompt)], device=model.device)).logits[0, -1]
        rows.append(torch.log_softmax(logits.float(), dim=-1)[list(candidates)])
    return torch.stack(rows)


@contextmanager
def _left_padding(tokenizer) -> Iterator[None]:
    saved = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"  # generation continues from the right edge
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        yield
    finally:
        tokenizer.padding_side, tokenizer.pad_token = saved


@torch.inference_mode()
def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch_size: int = 8,
    stop_sequences: Sequence[str] = (),
    temperature: float = 0.0,
    num_samples: int = 1,
    max_length: int | None = None,
) -> list[list[str]]:
    """`num_samples` continuations per prompt (greedy when temperature is 0), in prompt order.

    Prompts are batched by length; a sequence stops at its first stop sequence, which the caller
    still cuts off (the stop may end mid-token). Over-long prompts keep their last tokens.
    """
    model.eval()
    room = context_length(model, max_length) - max_new_tokens
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    outputs: list[list[str]] = [[] for _ in prompts]
    sampling = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    with _left_padding(tokenizer):
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            enc = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True)
            ids, mask = enc.input_ids[:, -room:], enc.attention_mask[:, -room:]
            new = model.generate(
                input_ids=ids.to(model.device),
                attention_mask=mask.to(model.device),
                max_new_tokens=max_new_tokens,
                num_return_sequences=num_samples,
                stop_strings=list(stop_sequences) or None,
                tokenizer=tokenizer,
                pad_token_id=tokenizer.pad_token_id,
                **sampling,
            )[:, ids.shape[1] :]
            texts = tokenizer.batch_decode(new, skip_special_tokens=True)
            for j, i in enumerate(batch):
                outputs[i] = texts[j * num_samples : (j + 1) * num_samples]
    return outputs
