"""``run(cfg)``: build data, model, logger and trainer from their sub-configs; fit; evaluate; save."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imitate import metrics
from imitate.data.format import ChatFormat, ConversationEncoder, add_special_tokens
from imitate.eval.heldout import generate_replies
from imitate.model.module import ImitationLM
from imitate.model.optim import OptimConfig
from imitate.tracking import mlflow_run

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> float:
    """Fine-tune ``cfg.model`` on ``cfg.data``; returns the held-out loss (what sweeps minimise)."""
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.output_dir)

    tokenizer = instantiate(cfg.model.tokenizer)
    chat_format = ChatFormat(**cfg.data.chat_format)
    add_special_tokens(tokenizer, chat_format)
    datamodule = instantiate(cfg.data, micro_batch_size=cfg.batch.micro_size, seed=cfg.seed)
    datamodule.prepare(tokenizer)
    log.info(datamodule.report.summary())

    backbone_factory = functools.partial(instantiate, cfg.model.backbone)
    lm = ImitationLM(backbone_factory, OptimConfig(**cfg.optim), vocab_size=len(tokenizer))

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    logger = mlflow_run.mlflow_logger(
        cfg.tracking, cfg.run_name, mlflow_run.run_tags(dict(choices))
    )
    client, run_id = logger.experiment, logger.run_id
    mlflow_run.log_params(client, run_id, OmegaConf.to_container(cfg, resolve=True))
    mlflow_run.log_config_artifacts(client, run_id, cfg, _hydra_dir(output_dir))

    trainer: pl.Trainer = instantiate(cfg.trainer, logger=logger, default_root_dir=str(output_dir))
    trainer.accumulate_grad_batches = grad_accumulation(
        cfg.batch.global_size, cfg.batch.micro_size, trainer.world_size
    )
    logger.log_metrics(datamodule.report.as_metrics() | datamodule.stats, step=0)
    # Re-seed: loading a tokenizer or converting a GGUF may have drawn random numbers, and the
    # backbone is initialised inside fit(); the same seed must give the same run either way.
    pl.seed_everything(cfg.seed, workers=True)
    trainer.fit(lm, datamodule=datamodule)

    results = evaluate(cfg.eval, trainer, lm, tokenizer, chat_format, datamodule, client, run_id)
    model_dir = save_model(lm, tokenizer, output_dir / "model")
    client.set_tag(run_id, "model_dir", str(model_dir))
    logger.log_metrics(results, step=trainer.global_step)
    logger.finalize("success")
    _print_where(output_dir, model_dir, cfg.tracking.uri, results)
    return results[metrics.HELDOUT_LOSS]


def grad_accumulation(global_batch: int, micro_batch: int, world_size: int) -> int:
    """Micro-batches per optimizer step so that ``micro * world * accumulation == global``."""
    per_step = micro_batch * world_size
    if global_batch % per_step:
        raise ValueError(
            f"batch.global_size={global_batch} is not a multiple of batch.micro_size={micro_batch} × "
            f"world size {world_size} = {per_step}; choose a global size that {per_step} divides"
        )
    return global_batch // per_step


def evaluate(
    eval_cfg, trainer, lm, tokenizer, chat_format, datamodule, client, run_id
) -> dict[str, float]:
    """Held-out loss/perplexity, the generations table, then any benchmark tasks in ``eval.tasks``."""
    validated = trainer.validate(lm, datamodule=datamodule, verbose=False)[0]
    results = {
        metrics.HELDOUT_LOSS: float(validated[metrics.VAL_LOSS]),
        metrics.HELDOUT_PERPLEXITY: float(validated[metrics.VAL_PERPLEXITY]),
    }
    encoder = ConversationEncoder(tokenizer, chat_format)
    heldout = datamodule.heldout[: eval_cfg.generations.num_prompts]
    rows = generate_replies(
        lm.model, tokenizer, encoder, heldout, eval_cfg.generations.max_new_tokens
    )
    if rows:
        client.log_table(
            run_id, {key: [row[key] for row in rows] for key in rows[0]}, "eval/generations.json"
        )
    return results


def save_model(lm: ImitationLM, tokenizer, model_dir: Path) -> Path:
    lm.model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir.resolve()


def _hydra_dir(output_dir: Path) -> Path | None:
    return output_dir / ".hydra" if (output_dir / ".hydra").is_dir() else None


def _print_where(
    output_dir: Path, model_dir: Path, tracking_uri: str, results: dict[str, float]
) -> None:
    summary = ", ".join(f"{k}={v:.4f}" for k, v in results.items())
    print(f"\nDone: {summary}\n  outputs:  {output_dir.resolve()}\n  model:    {model_dir}")
    print(f"  view runs: mlflow ui --backend-store-uri {tracking_uri}")
