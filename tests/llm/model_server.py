"""/v1/completions answered by an in-process model, with `echo` and `logprobs` as vLLM returns them.

`LoopbackServer(completion=ModelCompletions(model, tokenizer))`: the prompt is tokenised as given
(no special tokens added, like SmolLM2's tokenizer does by default), `max_tokens` tokens are
generated greedily, and `choices[0].logprobs` holds `tokens`, `token_logprobs` (null for the first
prompt token), `top_logprobs` (the `logprobs` most likely tokens per position) and `text_offset`
(cumulative lengths of the decoded tokens) over the echoed prompt (when `echo`) and the new tokens.
"""

from __future__ import annotations

import threading

import torch


class ModelCompletions:
    """A completion builder for the loopback server; one forward at a time."""

    def __init__(self, model, tokenizer) -> None:
        self.model, self.tokenizer = model.eval(), tokenizer
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> dict:
        prompt_ids = self.tokenizer(body["prompt"], add_special_tokens=False).input_ids
        with self._lock:
            ids, scores = self._greedy(prompt_ids, int(body.get("max_tokens") or 0))
        first = 0 if body.get("echo") else len(prompt_ids)
        tokens = [self.tokenizer.decode([token]) for token in ids]
        top_k = body.get("logprobs")
        choice = {"index": 0, "text": "".join(tokens[first:]), "finish_reason": "length"}
        if top_k is not None:
            choice["logprobs"] = self._logprobs(ids, tokens, scores, first, int(top_k))
        generated = len(ids) - len(prompt_ids)
        usage = {"prompt_tokens": len(prompt_ids), "completion_tokens": generated}
        return {"object": "text_completion", "choices": [choice], "usage": usage}

    @torch.inference_mode()
    def _greedy(self, prompt_ids: list[int], new_tokens: int) -> tuple[list[int], torch.Tensor]:
        """All ids and the log-softmax at every position (row i predicts token i + 1)."""
        ids = list(prompt_ids)
        logits = self.model(input_ids=torch.tensor([ids])).logits[0]
        for step in range(new_tokens):
            ids.append(int(logits[-1].argmax()))
            if step < new_tokens - 1:  # the last new token's own successor is never needed
                logits = self.model(input_ids=torch.tensor([ids])).logits[0]
        return ids, torch.log_softmax(logits.float(), dim=-1)

    def _logprobs(self, ids, tokens, scores, first: int, top_k: int) -> dict:
        token_logprobs, top, offsets, position = [], [], [], 0
        for i in range(first, len(ids)):
            offsets.append(position)
            position += len(tokens[i])
            if i == 0:
                token_logprobs.append(None)
                top.append(None)
                continue
            row = scores[i - 1]
            token_logprobs.append(float(row[ids[i]]))
            values, indices = row.topk(top_k)
            pairs = zip(values.tolist(), indices.tolist(), strict=True)
            top.append({self.tokenizer.decode([j]): v for v, j in pairs})
        return {
            "tokens": tokens[first:],
            "token_logprobs": token_logprobs,
            "top_logprobs": top,
            "text_offset": offsets,
        }
