"""Batched calls of an in-process transformers model: next-token log-probs with a reused prefix, generation."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence

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
        prefix_cache = _returned_cache(model(input_ids=prefix, use_cache=True))
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
        use_cache=cache is not None,
        **{_cache_argument(model): cache},
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


@torch.inference_mode()
def generate_ids(
    model,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    pad_token_id: int,
    eos_token_ids: Sequence[int],
    batch_size: int = 8,
    temperature: float = 0.0,
    num_samples: int = 1,
    max_length: int | None = None,
    stop_strings: Sequence[str] = (),
    tokenizer=None,
    repetition_penalty: float = 1.0,
) -> list[list[list[int]]]:
    """`num_samples` continuations (new token ids) per prompt, greedy at temperature 0, in prompt order.

    Prompts are left-padded in batches of similar length; over-long prompts keep their last
    tokens. A sequence ends at any of `eos_token_ids` or its first stop string (`tokenizer` needed).
    `repetition_penalty` > 1 divides the logits of tokens already in the sequence (CTRL; 1: off).
    """
    model.eval()
    room = context_length(model, max_length) - max_new_tokens
    if room < 1:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the model's "
            f"{context_length(model, max_length)}-token context"
        )
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    outputs: list[list[list[int]]] = [[] for _ in prompts]
    sampling = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        ids, mask = _left_padded([list(prompts[i])[-room:] for i in batch], pad_token_id)
        new = model.generate(
            input_ids=ids.to(model.device),
            attention_mask=mask.to(model.device),
            max_new_tokens=max_new_tokens,
            num_return_sequences=num_samples,
            stop_strings=list(stop_strings) or None,
            tokenizer=tokenizer if stop_strings else None,
            pad_token_id=pad_token_id,
            eos_token_id=list(eos_token_ids),
            repetition_penalty=repetition_penalty,
            **sampling,
        )[:, ids.shape[1] :].tolist()
        for j, i in enumerate(batch):
            outputs[i] = [
                _until_end(row, eos_token_ids)
                for row in new[j * num_samples : (j + 1) * num_samples]
            ]
    return outputs


def _left_padded(prompts: list[list[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    # Left padding so every prompt ends right where generation starts.
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad_token_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def _until_end(row: list[int], eos_token_ids: Sequence[int]) -> list[int]:
    """The generated ids before the first end token (the rest is padding)."""
    for position, token in enumerate(row):
        if token in eos_token_ids:
            return row[:position]
    return row


def _cache_argument(model) -> str:
    """transformers 5 renamed ``past_key_values`` to ``cache``; the old name warns on every run."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _returned_cache(output):
    # not .get(): its default would read the deprecated attribute, which warns
    return output["cache"] if "cache" in output else output.past_key_values  # noqa: SIM401
