"""The imitation loss: next-token cross-entropy on the teacher's tokens, projected only there.

On imitation data many positions carry no label (user turns, padding), yet a causal LM's forward
projects every position onto the vocabulary. On small models that projection and its softmax are
most of the compute; on large ones the (batch × sequence × vocabulary) logits are the largest
activation. ``SupervisedProjection`` gives the output embedding only the positions whose next
token is supervised. The loss value and gradients are those of the full masked loss.

It is a forward pre-hook on the output embedding, not a second forward: the model's own
``forward`` runs unchanged, so FSDP's hooks on the root still gather the head's weights, and
elementwise logit post-processing (soft-capping, logit scaling) still applies.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from imitate.data.format import IGNORE_INDEX


class SupervisedProjection:
    """Cross-entropy on supervised next tokens, with the vocabulary projection limited to them."""

    def __init__(self, model: PreTrainedModel) -> None:
        head = model.get_output_embeddings()
        if not isinstance(head, nn.Module):
            raise ValueError(
                f"{type(model).__name__} has no output embedding module to restrict; "
                "set loss.supervised_logits_only=false"
            )
        self._keep: torch.Tensor | None = None
        head.register_forward_pre_hook(self._select)

    def _select(self, module: nn.Module, args: tuple):
        if self._keep is None:
            return None  # generation, validation: the head sees every position
        hidden, *rest = args
        return (hidden[:, :-1][self._keep], *rest)

    @contextmanager
    def _projecting(self, keep: torch.Tensor):
        self._keep = keep
        try:
            yield
        finally:
            self._keep = None

    def loss(self, model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy over the batch's supervised next tokens (``labels != IGNORE``)."""
        next_labels = batch["labels"][:, 1:]
        keep = next_labels != IGNORE_INDEX
        with self._projecting(keep):
            logits = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                use_cache=False,
            ).logits
        targets = next_labels[keep]
        if targets.numel() == 0:
            return logits.sum() * 0.0  # nothing supervised: a zero loss still reaching every weight
        return F.cross_entropy(logits.float(), targets)


def full_logits_output(model: PreTrainedModel, batch: dict[str, torch.Tensor]):
    """The model's own forward with labels: full logits and its loss over them (validation)."""
    return model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        labels=batch["labels"],
        use_cache=False,
    )


def full_logits_loss(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's own loss over full logits: for backbones whose head cannot be restricted."""
    return full_logits_output(model, batch).loss
