"""ImitationLM: the one LightningModule, from a 2-layer test model to LLaMA-13B."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytorch_lightning as pl
import torch
from torchmetrics.aggregation import MeanMetric
from torchmetrics.text import Perplexity
from transformers import PreTrainedModel

from imitate import metrics
from imitate.data.format import IGNORE_INDEX
from imitate.model.optim import OptimConfig, build_optimizer, build_scheduler


class ImitationLM(pl.LightningModule):
    """Causal-LM loss on the teacher's reply tokens (labels elsewhere are ``IGNORE_INDEX``).

    The backbone is built in ``configure_model`` from a factory, so distributed strategies can
    create it on the meta device and shard it before any weights are materialised.
    """

    def __init__(
        self,
        backbone_factory: Callable[[], PreTrainedModel],
        optim: OptimConfig,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        self.backbone_factory = backbone_factory
        self.optim_config = optim
        self.vocab_size = vocab_size
        self.model: PreTrainedModel | None = None
        self.val_loss = MeanMetric()
        self.val_perplexity = Perplexity(ignore_index=IGNORE_INDEX)
        self._tokens_seen = 0
        self._fit_start: float | None = None

    def configure_model(self) -> None:
        if self.model is not None:
            return
        self.model = self.backbone_factory()
        self.model.train()  # from_pretrained returns eval mode; Lightning only toggles the root
        if self.vocab_size and self.model.get_input_embeddings().num_embeddings < self.vocab_size:
            self.model.resize_token_embeddings(self.vocab_size)  # new role-marker tokens

    def forward(self, batch: dict[str, torch.Tensor]):
        return self.model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        )

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self(batch).loss
        self.log(metrics.TRAIN_LOSS, loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        output = self(batch)
        supervised = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
        if supervised == 0:
            return
        self.val_loss.update(output.loss.detach(), weight=supervised)
        self.val_perplexity.update(output.logits[:, :-1].float(), batch["labels"][:, 1:])
        self.log(metrics.VAL_LOSS, self.val_loss, prog_bar=True)
        self.log(metrics.VAL_PERPLEXITY, self.val_perplexity)

    def on_train_start(self) -> None:
        self._fit_start = time.perf_counter()

    def on_train_batch_end(self, outputs, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # Throughput since training started, counted after backward so the batch's time is in it.
        self._tokens_seen += int(batch["attention_mask"].sum()) * self.trainer.world_size
        elapsed = time.perf_counter() - (self._fit_start or time.perf_counter())
        self.log(metrics.TOKENS_SEEN, float(self._tokens_seen))
        if elapsed > 0:
            self.log(metrics.TOKENS_PER_SECOND, self._tokens_seen / elapsed)
        self.log(metrics.LEARNING_RATE, self.trainer.optimizers[0].param_groups[0]["lr"])

    def configure_optimizers(self):
        optimizer = build_optimizer(self.model.parameters(), self.optim_config)
        total_steps = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = build_scheduler(optimizer, self.optim_config, total_steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
