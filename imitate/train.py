"""``run(cfg)``: build data, model, logger and trainer from their sub-configs; fit; evaluate; save."""

from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.utilities import rank_zero_only

from imitate import metrics
from imitate.data.card import log_data_card, render_markdown
from imitate.data.format import ChatFormat, ConversationEncoder, add_special_tokens
from imitate.eval.results import before_after_table, log_results
from imitate.eval.tasks import run_tasks
from imitate.llm.hf import HFClient
from imitate.metric_log import log_metrics
from imitate.model import adapters, checkpoints, parallel
from imitate.model.adapters import AdapterConfig
from imitate.model.backbones import count_parameters
from imitate.model.module import ImitationLM
from imitate.model.optim import OptimConfig
from imitate.model.parallel import ParallelConfig
from imitate.model.progress import ProgressConfig, progress_callbacks
from imitate.redact import redact
from imitate.tracking import cells, mlflow_run

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> float:
    """Fine-tune ``cfg.model`` on ``cfg.data``; returns the held-out loss (what sweeps minimise)."""
    pl.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.output_dir)
    finished = cells.finished_result(cfg, metrics.HELDOUT_LOSS)
    if finished is not None:
        return finished  # a sweep rerun: this cell already finished with the same config

    tokenizer = instantiate(cfg.model.tokenizer)
    chat_format = ChatFormat(**cfg.data.chat_format)
    add_special_tokens(tokenizer, chat_format)
    datamodule = instantiate(cfg.data, micro_batch_size=cfg.batch.micro_size, seed=cfg.seed)
    datamodule.prepare(tokenizer)
    log.info("\n%s", render_markdown(datamodule.card))

    backbone_factory = functools.partial(instantiate, cfg.model.backbone)
    adapter = AdapterConfig(**cfg.adapter)
    lm = ImitationLM(
        backbone_factory,
        OptimConfig(**cfg.optim),
        vocab_size=len(tokenizer),
        parallel_config=ParallelConfig(**cfg.parallel),
        weights=cfg.model.backbone.weights,
        weights_cache_dir=cfg.model.backbone.cache_dir,
        supervised_logits_only=cfg.loss.supervised_logits_only,
        adapter=adapter,
        role_token_ids=tuple(tokenizer.convert_tokens_to_ids(chat_format.markers())),
    )
    checkpointing = checkpoints.CheckpointConfig(**cfg.checkpoint)
    resume = checkpoints.resume_point(checkpointing, cfg.resume) or _resume_sweep_cell(
        cfg, checkpointing
    )

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    parameters = count_parameters(backbone_factory(device="meta"))  # a sweep cell's size tag
    tags = mlflow_run.run_tags(dict(choices)) | cells.cell_tags(cfg, dict(choices), parameters)
    tags[cells.TAG_ADAPTER] = adapter.method
    continued = resume.mlflow_run_id if resume else None  # a resumed job continues its run
    logger = mlflow_run.rank_zero_mlflow_logger(cfg.tracking, cfg.run_name, tags, continued)
    client, run_id = logger.experiment, logger.run_id
    if resume is None:  # a resumed run holds its params already (MLflow refuses changed values)
        mlflow_run.log_params(client, run_id, mlflow_run.resolved_dict(cfg))
        mlflow_run.log_config_artifacts(client, run_id, cfg, _hydra_dir(output_dir))

    rank = rank_zero_only.rank  # type: ignore[attr-defined]  # set by Lightning, undeclared
    trainer_arguments = checkpoints.trainer_arguments(checkpointing)
    progress_lines = progress_callbacks(ProgressConfig(**cfg.progress))  # stdout not a terminal
    trainer_arguments["callbacks"] = trainer_arguments["callbacks"] + progress_lines
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        logger=logger if rank == 0 else False,  # one MLflow writer
        default_root_dir=str(output_dir),
        # a bar redraws one line: under nohup/SLURM/CI the lines above replace it
        enable_progress_bar=cfg.trainer.get("enable_progress_bar", True) and not progress_lines,
        **trainer_arguments,
    )
    parallel.require_external_launch(trainer)
    trainer.accumulate_grad_batches = grad_accumulation(
        cfg.batch.global_size, cfg.batch.micro_size, trainer.world_size
    )
    log_data_card(client, run_id, datamodule.card)
    log_metrics(client, run_id, datamodule.stats)
    log_metrics(client, run_id, trainable_metrics(lm.unsharded_twin()))
    # Re-seed: loading a tokenizer or converting a GGUF may have drawn random numbers, and the
    # backbone is initialised inside fit(); the same seed must give the same run either way.
    pl.seed_everything(cfg.seed, workers=True)
    score = functools.partial(
        evaluate, cfg.eval, trainer, lm, tokenizer, chat_format, datamodule, client, run_id
    )
    before = None
    if cfg.train:  # false: a base-model reference row, evaluated as it is
        before = score()  # the base model at step 0; its task results are cached by fingerprint
        pl.seed_everything(cfg.seed, workers=True)  # fit draws the same numbers either way
        # The datamodule, not its loaders: fit builds them once it knows the data-parallel ranks.
        trainer.fit(lm, datamodule=datamodule, ckpt_path=resume.path if resume else None)
        checkpoints.save_final(trainer, checkpointing)

    results = score()  # at the final step: MLflow's latest value is the trained model's
    model_dir = save_model(lm, tokenizer, output_dir / "model")
    mlflow_run.log_saved_model(client, run_id, cfg.tracking, model_dir)
    mlflow_run.end_run(logger)
    if before is not None:
        print(before_after_table(before, results))
    _print_where(output_dir, model_dir, cfg.tracking.uri, results)
    return results[metrics.HELDOUT_LOSS]


def _resume_sweep_cell(cfg: DictConfig, checkpointing) -> checkpoints.ResumePoint | None:
    """``resume=auto`` in a sweep rerun: continue the cell's interrupted run from its own folder."""
    earlier = cells.unfinished_checkpoint_dir(cfg) if cfg.resume == "auto" else None
    if earlier is None or earlier == checkpointing.dir:
        return None
    return checkpoints.resume_point(dataclasses.replace(checkpointing, dir=earlier), "auto")


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
    """Held-out loss/perplexity, then the tasks in ``eval.tasks`` (style on the held-out split by default)."""
    validated = trainer.validate(lm, datamodule=datamodule, verbose=False)[0]
    results = {
        metrics.HELDOUT_LOSS: float(validated[metrics.VAL_LOSS]),
        metrics.HELDOUT_PERPLEXITY: float(validated[metrics.VAL_PERPLEXITY]),
    }
    stop_at_end_of_reply(lm.backbone, ConversationEncoder(tokenizer, chat_format))
    llm = HFClient(lm.backbone, tokenizer, **eval_cfg.client)
    tasks = run_tasks(
        eval_cfg.tasks,
        llm,
        output_dir=Path(trainer.default_root_dir),
        cache_dir=Path(eval_cfg.results_cache).expanduser(),
        heldout=datamodule.heldout,
    )
    log_results(
        client,
        run_id,
        results | tasks.metrics,
        tasks.records,
        eval_cfg.tasks,
        step=trainer.global_step,
        info=tasks.info,
    )
    return results | tasks.metrics


def stop_at_end_of_reply(model, encoder: ConversationEncoder) -> None:
    """Generation (here and wherever the saved model is served) ends a reply where training did."""
    ends = {encoder.end_id, encoder.tokenizer.eos_token_id}
    model.generation_config.eos_token_id = sorted(e for e in ends if e is not None)


def trainable_metrics(model) -> dict[str, float]:
    """What the optimizer will update, counted on the model as built (on the meta device)."""
    trainable, total = adapters.trainable_parameters(model)
    return {metrics.TRAINABLE_PARAMS: trainable, metrics.TRAINABLE_FRACTION: trainable / total}


def save_model(lm: ImitationLM, tokenizer, model_dir: Path) -> Path:
    """model/ (gathered from FSDP shards); under an adapter also adapter/ beside it, and model/
    holds the merged weights unless ``adapter.save_merged`` is false (then adapter/ is returned)."""
    if not adapters.is_adapted(lm.backbone):
        return checkpoints.save_pretrained(lm.backbone, tokenizer, model_dir)
    merged = model_dir if lm.adapter.save_merged else None
    adapter_dir = model_dir.parent / adapters.ADAPTER_DIR
    return adapters.save(
        lm.backbone, tokenizer, adapter_dir, merged, lm.unsharded_twin, lm.base_weights_dir()
    )


def _hydra_dir(output_dir: Path) -> Path | None:
    return output_dir / ".hydra" if (output_dir / ".hydra").is_dir() else None


def _print_where(
    output_dir: Path, model_dir: Path, tracking_uri: str, results: dict[str, float]
) -> None:
    headline = {k: v for k, v in results.items() if k.count("/") == 1}  # not per-subject rows
    summary = ", ".join(f"{k}={v:.4f}" for k, v in headline.items())
    print(f"\nDone: {summary}\n  outputs:  {output_dir.resolve()}\n  model:    {model_dir}")
    print(f"  view runs: mlflow ui --backend-store-uri {redact(tracking_uri)}")
