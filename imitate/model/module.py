"""ImitationLM: the one LightningModule, from a 2-layer test model to LLaMA-13B."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import ModelParallelStrategy
from torchmetrics.aggregation import MeanMetric
from torchmetrics.text import Perplexity
from transformers import PreTrainedModel

from imitate import metrics
from imitate.data.format import IGNORE_INDEX
from imitate.model import adapters, checkpoints, flops, parallel
from imitate.model.adapters import AdapterConfig
from imitate.model.checkpoints import MLFLOW_RUN_ID, RNG_STATES_KEY, TOKENS_SEEN_KEY
from imitate.model.loss import SupervisedProjection, full_logits_loss, full_logits_output
from imitate.model.optim import OptimConfig, build_optimizer, build_scheduler
from imitate.pretrained import DEFAULT_CACHE, local_weights


class ImitationLM(pl.LightningModule):
    """Causal-LM loss on the teacher's reply tokens (labels elsewhere are ``IGNORE_INDEX``).

    The backbone is built in ``configure_model`` from a factory, so distributed strategies can
    create it on the meta device and shard it before any weights are materialised.
    """

    def __init__(
        self,
        backbone_factory: Callable[..., PreTrainedModel],
        optim: OptimConfig,
        vocab_size: int | None = None,
        parallel_config: parallel.ParallelConfig | None = None,
        weights: str | None = None,
        weights_cache_dir: str = DEFAULT_CACHE,
        supervised_logits_only: bool = True,
        adapter: AdapterConfig | None = None,
        role_token_ids: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.backbone_factory = backbone_factory
        self.optim_config = optim
        self.vocab_size = vocab_size
        self.parallel_config = parallel_config or parallel.ParallelConfig()
        # The backbone config's weights and cache: FSDP reads pretrained weights shard by shard.
        self.weights, self.weights_cache_dir = weights, weights_cache_dir
        self.supervised_logits_only = supervised_logits_only
        # adapter=lora: the backbone is wrapped by peft; role_token_ids are the rows it trains.
        self.adapter, self.role_token_ids = adapter or AdapterConfig(), tuple(role_token_ids)
        self.flops_per_token: float | None = None
        self.model: PreTrainedModel | None = None
        self._train_loss: Callable[[PreTrainedModel, dict], torch.Tensor] = full_logits_loss
        self.val_loss = MeanMetric()
        self.val_perplexity = Perplexity(ignore_index=IGNORE_INDEX)
        self._tokens_seen = 0
        self._resumed_rng: list[dict] | None = None
        self._step_losses: list[torch.Tensor] = []
        self._step_tokens: list[torch.Tensor] = []
        self._seq_len = 0
        self._throughput_since: tuple[float, int] = (time.perf_counter(), 0)  # (time, tokens seen)

    @property
    def backbone(self) -> PreTrainedModel:
        """The backbone, once ``configure_model`` has built it (Lightning calls it before a loop)."""
        if self.model is None:
            raise RuntimeError("ImitationLM: no backbone yet; configure_model() builds it")
        return self.model

    def configure_model(self) -> None:
        if self.model is not None:
            return
        strategy = self._trainer.strategy if self._trainer is not None else None
        if isinstance(strategy, ModelParallelStrategy):
            mesh = self.device_mesh
            assert mesh is not None, "ModelParallelStrategy sets the mesh before configure_model"
            self.model = parallel.build_sharded(
                self.backbone_factory,
                parallel.pretrained_dir(self.weights, self.weights_cache_dir),
                mesh["data_parallel"],
                self.parallel_config,
                strategy.root_device,
                self.vocab_size,
                adapt=self._adapt if self.adapter.enabled else None,
            )
        else:
            self.model = self._adapt(parallel.resized(self.backbone_factory(), self.vocab_size))
        self.model.train()  # from_pretrained returns eval mode; Lightning only toggles the root
        if self.supervised_logits_only:  # after resizing and sharding: the final output head
            self._train_loss = SupervisedProjection(self.model).loss

    def _adapt(self, model: PreTrainedModel) -> PreTrainedModel:
        return adapters.wrap(model, self.adapter, self.role_token_ids)

    def unsharded_twin(self) -> PreTrainedModel:
        """The backbone as this module builds it, unsharded and on the meta device: what a gathered
        state dict is assigned into (saving an FSDP-trained adapter)."""
        empty = parallel.resized(self.backbone_factory(device="meta"), self.vocab_size)
        return self._adapt(empty)

    def base_weights_dir(self) -> str | None:
        """The base weights as a saved adapter names them (a local folder or hub id; None: random)."""
        if self.weights is None:
            return None
        local = Path(local_weights(self.weights, self.weights_cache_dir))
        return str(local.resolve()) if local.exists() else str(local)

    def forward(self, batch: dict[str, torch.Tensor]):
        return full_logits_output(self.backbone, batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._train_loss(self.backbone, batch)
        self._step_losses.append(loss.detach())
        self._step_tokens.append(batch["attention_mask"].sum())  # a tensor: no device sync here
        self._seq_len = batch["input_ids"].shape[1]
        return loss

    def on_before_optimizer_step(self, optimizer) -> None:
        # train/loss is the objective of this optimizer step: the mean over every micro-batch of
        # the global batch (accumulated here, averaged over ranks by sync_dist), whatever the
        # world size, so runs with different numbers of devices log the same curve.
        if not self._step_losses:
            return
        step_loss = torch.stack(self._step_losses).mean()
        self._step_losses.clear()
        self.log(metrics.TRAIN_LOSS, step_loss, prog_bar=True, sync_dist=True)
        self._log_step_counters(optimizer)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Rank 0 writes these into the checkpoint's metadata: resume=auto continues the same run
        # and the same token count.
        checkpoint[MLFLOW_RUN_ID] = getattr(self.logger, "run_id", None)
        checkpoint[TOKENS_SEEN_KEY] = self._tokens_seen
        checkpoint[RNG_STATES_KEY] = checkpoints.rng_states_of_every_rank()  # a collective

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._tokens_seen = checkpoint.get(TOKENS_SEEN_KEY, 0)
        # Set at the first batch, not now: building the train loader draws random numbers too.
        self._resumed_rng = checkpoint.get(RNG_STATES_KEY)

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if self._resumed_rng is not None:  # dropout masks (LoRA's, GPT-2's) as if never stopped
            checkpoints.restore_rng_state(self._resumed_rng)
            self._resumed_rng = None

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        output = self(batch)
        supervised = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
        if supervised == 0:
            return
        self.val_loss.update(output.loss.detach(), weight=supervised)
        self.val_perplexity.update(output.logits[:, :-1].float(), batch["labels"][:, 1:])
        self.log(metrics.VAL_LOSS, self.val_loss, prog_bar=True)
        self.log(metrics.VAL_PERPLEXITY, self.val_perplexity)

    def on_fit_start(self) -> None:
        # Training scores the base model first (trainer.validate under inference mode): fresh
        # states, so fit's own validation does not update tensors made under inference mode.
        self.val_loss.reset()
        self.val_perplexity.reset()
        self.backbone.train()  # validate left it in eval mode

    def on_train_start(self) -> None:
        self._throughput_since = (time.perf_counter(), self._tokens_seen)

    def _log_step_counters(self, optimizer) -> None:
        # Once per optimizer step, not per micro-batch: logging is not free on small models,
        # and reading the token count syncs the device.
        self._tokens_seen += int(torch.stack(self._step_tokens).sum()) * self.trainer.world_size
        self._step_tokens.clear()
        self.log(metrics.TOKENS_SEEN, float(self._tokens_seen))
        # Throughput of this optimizer step (from the previous one's last backward to this one's;
        # the first counts from the start of training): a current rate, not an average that
        # carries the warm-up of the first steps along.
        now, (since, tokens_then) = time.perf_counter(), self._throughput_since
        self._throughput_since = (now, self._tokens_seen)
        if now > since:
            self._log_throughput((self._tokens_seen - tokens_then) / (now - since), self._seq_len)
        self.log(metrics.LEARNING_RATE, optimizer.param_groups[0]["lr"])

    def _log_throughput(self, tokens_per_second: float, seq_len: int) -> None:
        """tokens/s, tokens/s per device, and MFU where the device's peak is in the table."""
        per_device = tokens_per_second / self.trainer.world_size
        self.log(metrics.TOKENS_PER_SECOND, tokens_per_second)
        self.log(flops.TOKENS_PER_SECOND_PER_DEVICE, per_device)
        accelerator = flops.accelerator_of(self.device)
        if accelerator is None:
            return  # CPUs and unknown GPUs: no honest peak to divide by
        if self.flops_per_token is None:
            self.flops_per_token = flops.flops_per_token(self.backbone, seq_len)
        self.log(
            flops.MFU, flops.mfu(per_device, self.flops_per_token, accelerator.peak_bf16_flops)
        )

    def _total_steps(self) -> int:
        return max(1, int(self.trainer.estimated_stepping_batches))

    def configure_optimizers(self):
        # Only what trains gets optimizer states: under an adapter, a fraction of the weights.
        trainable = [p for p in self.backbone.parameters() if p.requires_grad]
        optimizer = build_optimizer(trainable, self.optim_config)
        # Asked lazily: estimated_stepping_batches builds the train loader, and building it here,
        # before a checkpoint is restored, would make Lightning skip the loader's saved position.
        scheduler = build_scheduler(optimizer, self.optim_config, self._total_steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
