"""The in-process transformers model behind the LLM interface: batched generation and log-prob scoring."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.distributed.tensor import DTensor

from imitate.llm.base import GenerationRequest, cut_at_stop
from imitate.llm.hf_batching import (
    candidate_token_ids,
    context_length,
    generate_ids,
    next_token_logprobs,
)


class HFClient:
    """An `LLM` over a loaded model and tokenizer (what training evaluates, and `llm=hf`).

    Chat requests are rendered with the tokenizer's chat template: after training that is
    imitate's own format (`imitate.data.format.chat_template`), so replies are prompted as trained.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        batch_size: int = 8,
        scoring_batch_size: int = 16,
        max_length: int | None = None,
    ):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.scoring_batch_size = batch_size, scoring_batch_size
        self.max_length = max_length
        self.name = f"hf:{getattr(model, 'name_or_path', '') or type(model).__name__}"
        self._fingerprint: str | None = None

    @property
    def context_length(self) -> int:
        return context_length(self.model, self.max_length)

    def fingerprint(self) -> str:
        """sha256 of every weight and the tokenizer: identical models share cached results."""
        if self._fingerprint is None:
            digest = hashlib.sha256(weights_fingerprint(self.model).encode())
            tokenizer_id = [type(self.tokenizer).__name__, len(self.tokenizer)]
            digest.update(repr(tokenizer_id + [self.tokenizer.chat_template]).encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text).input_ids)

    def usage_metrics(self) -> dict[str, float]:
        return {}

    def stored_usage(self, requests: Sequence[GenerationRequest], since: float) -> dict[str, float]:
        return {}  # nothing is paid for, nothing is stored

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[str]]:
        # One batched model.generate per group of requests that share their sampling settings.
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, request in enumerate(requests):
            key = (
                request.max_new_tokens,
                request.stop,
                request.temperature,
                request.n,
                request.repetition_penalty,
            )
            groups[key].append(i)
        outputs: list[list[str]] = [[] for _ in requests]
        for indices in groups.values():
            texts = self._generate_group([requests[i] for i in indices])
            for i, group_texts in zip(indices, texts, strict=True):
                outputs[i] = group_texts
        return outputs

    def _generate_group(self, requests: list[GenerationRequest]) -> list[list[str]]:
        first = requests[0]
        pad = self.tokenizer.pad_token_id
        new = generate_ids(
            self.model,
            [self.prompt_ids(r) for r in requests],
            max_new_tokens=first.max_new_tokens,
            pad_token_id=self.tokenizer.eos_token_id if pad is None else pad,
            eos_token_ids=self.end_token_ids(),
            batch_size=self.batch_size,
            temperature=first.temperature,
            num_samples=first.n,
            max_length=self.max_length,
            stop_strings=first.stop,
            tokenizer=self.tokenizer,
            repetition_penalty=first.repetition_penalty,
        )
        return [
            [
                cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), r.stop)
                for ids in rows
            ]
            for r, rows in zip(requests, new, strict=True)
        ]

    def prompt_ids(self, request: GenerationRequest) -> list[int]:
        """Token ids the model continues from: the chat template's rendering, or the raw prompt."""
        if request.prompt is not None:
            return self.tokenizer(request.prompt).input_ids
        if not self.tokenizer.chat_template:
            raise ValueError(
                f"{self.name}: a chat request needs a tokenizer chat template, and this tokenizer "
                "has none; send a raw `prompt` instead, or use a model trained by imitate "
                "(its saved tokenizer carries imitate's template)"
            )
        encoded = self.tokenizer.apply_chat_template(
            list(request.messages or ()), add_generation_prompt=True, tokenize=True
        )
        return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)

    def end_token_ids(self) -> list[int]:
        """Tokens that end a reply: the tokenizer's eos and whatever the generation config adds."""
        ends = {self.tokenizer.eos_token_id}
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        ends |= set(configured if isinstance(configured, list) else [configured])
        return sorted(e for e in ends if e is not None)

    def next_token_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """Prompts are tokenised as given and keep their last `context_length` tokens."""
        ids = [self.tokenizer(p).input_ids[-self.context_length :] for p in prompts]
        letters = candidate_token_ids(self.tokenizer, candidates)
        return next_token_logprobs(self.model, ids, letters, self.scoring_batch_size).tolist()


@torch.no_grad()
def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer: identical weights give the same key, wherever they came from.

    Under FSDP the weights are DTensor shards: each is gathered (every rank walks the same sorted
    names, so the collectives line up) and the key is the same as for the unsharded model.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if isinstance(tensor, DTensor):
            tensor = tensor.full_tensor()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def load_hf_client(
    backbone=None,
    tokenizer=None,
    checkpoint: str | None = None,
    batch_size: int = 8,
    scoring_batch_size: int = 16,
    max_length: int | None = None,
) -> HFClient:
    """`llm=hf`: a saved checkpoint dir when given, else the model group's backbone and tokenizer.

    `backbone` and `tokenizer` are their configs (`_recursive_: false`), built only when no
    checkpoint replaces them, so a checkpoint run never loads the base weights too.
    """
    if checkpoint is not None:
        model, tokenizer = load_checkpoint(checkpoint)
    elif backbone is None or tokenizer is None:
        raise ValueError("llm=hf needs `checkpoint` or both `backbone` and `tokenizer`")
    else:
        from hydra.utils import instantiate

        model, tokenizer = instantiate(backbone), instantiate(tokenizer)
    return HFClient(
        model.eval(),
        tokenizer,
        batch_size=batch_size,
        scoring_batch_size=scoring_batch_size,
        max_length=max_length,
    )


def load_checkpoint(checkpoint: str):
    """A `save_pretrained` folder (model/ in a training run's outputs) -> (model, tokenizer).

    An adapter folder (adapter/ of an `adapter=lora` run) is loaded with peft onto the base it
    names, its vocabulary grown to the saved tokenizer's, and merged.
    """
    from peft.utils import CONFIG_NAME as ADAPTER_CONFIG
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(checkpoint).expanduser()
    if (path / ADAPTER_CONFIG).is_file():
        from peft import AutoPeftModelForCausalLM

        adapted = AutoPeftModelForCausalLM.from_pretrained(path)
        return adapted.merge_and_unload(), AutoTokenizer.from_pretrained(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"checkpoint={checkpoint!r} is not a saved model dir (no config.json) nor an adapter "
            f"dir (no {ADAPTER_CONFIG}); point it at the model/ or adapter/ folder a training "
            "run printed"
        )
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
