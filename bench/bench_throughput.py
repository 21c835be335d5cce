"""Training throughput (tokens/s): imitate's Lightning module against a plain transformers Trainer.

Same tiny LLaMA (same seed), same packed ShareGPT blocks, sequence length, micro-batch, gradient
accumulation, optimiser (ParamScaledAdamW, constant lr), clipping and precision, in one process.
imitate runs twice: as shipped (vocabulary projection on supervised positions only) and with the
backbone's own full-logits loss, which isolates Lightning's loop overhead. Each variant runs
``--repeats`` times, interleaved in rotating order; the best run of each counts (shared machines
are noisy), timing only optimizer steps after the first (warm-up).

Run: python bench/bench_throughput.py [--steps 20] [--block-size 128] [--micro 8] [--accumulate 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from torch.utils.data import DataLoader
from transformers import Trainer, TrainerCallback, TrainingArguments

from imitate.data.format import IGNORE_INDEX, ChatFormat, add_special_tokens
from imitate.model.module import ImitationLM
from imitate.model.optim import OptimConfig, ParamScaledAdamW

OPTIM = OptimConfig(lr=1e-3, warmup_steps=0, schedule="constant")


def load(args):
    overrides = [
        f"model={args.model}",
        f"data.block_size={args.block_size}",
        f"data.max_tokens={args.block_size * args.micro * args.accumulate * args.steps}",
        "data.val_conversations=4",
        "data.heldout_prompts=1",
    ]
    with initialize_config_module(config_module="imitate.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    tokenizer = instantiate(cfg.model.tokenizer)
    add_special_tokens(tokenizer, ChatFormat(**cfg.data.chat_format))
    datamodule = instantiate(cfg.data, micro_batch_size=args.micro, seed=cfg.seed)
    datamodule.prepare(tokenizer)
    return cfg, len(tokenizer), datamodule.train_set


class _Clock:
    """Wall-clock time at the end of each optimizer step."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def tick(self) -> None:
        self.times.append(time.perf_counter())

    def tokens_per_second(self, tokens_per_step: int) -> float:
        steps = len(self.times) - 1  # the first step is warm-up
        return steps * tokens_per_step / (self.times[-1] - self.times[0])


class _LightningClock(pl.Callback):
    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def on_before_zero_grad(self, trainer, pl_module, optimizer) -> None:
        self.clock.tick()


class _TransformersClock(TrainerCallback):
    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def on_step_end(self, args, state, control, **kwargs) -> None:
        self.clock.tick()


def run_imitate(cfg, vocab_size: int, dataset, args, supervised_logits_only: bool = True) -> float:
    torch.manual_seed(cfg.seed)
    factory = functools.partial(instantiate, cfg.model.backbone)
    lm = ImitationLM(
        factory, OPTIM, vocab_size=vocab_size, supervised_logits_only=supervised_logits_only
    )
    clock = _Clock()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        precision="32-true",
        max_steps=args.steps,
        accumulate_grad_batches=args.accumulate,
        gradient_clip_val=1.0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[_LightningClock(clock)],
    )
    loader = DataLoader(dataset, args.micro, shuffle=True, generator=torch.manual_seed(cfg.seed))
    trainer.fit(lm, loader)
    return clock.tokens_per_second(args.micro * args.accumulate * args.block_size)


def run_transformers(cfg, vocab_size: int, dataset, args) -> float:
    torch.manual_seed(cfg.seed)
    model = instantiate(cfg.model.backbone)
    if model.get_input_embeddings().num_embeddings < vocab_size:
        model.resize_token_embeddings(vocab_size)
    optimizer = ParamScaledAdamW(model.parameters(), lr=OPTIM.lr, betas=OPTIM.betas)
    clock = _Clock()
    with tempfile.TemporaryDirectory() as output_dir:
        training_args = TrainingArguments(
            output_dir=output_dir,
            per_device_train_batch_size=args.micro,
            gradient_accumulation_steps=args.accumulate,
            max_steps=args.steps,
            max_grad_norm=1.0,
            lr_scheduler_type="constant",
            logging_strategy="no",
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            remove_unused_columns=False,
            dataloader_num_workers=0,
            seed=cfg.seed,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=dataset,
            optimizers=(optimizer, None),
            callbacks=[_TransformersClock(clock)],
        )
        trainer.train()
    return clock.tokens_per_second(args.micro * args.accumulate * args.block_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny_llama")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--micro", type=int, default=8)
    parser.add_argument("--accumulate", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cfg, vocab_size, dataset = load(args)
    variants = {
        "imitate": functools.partial(run_imitate, supervised_logits_only=True),
        "imitate_full_logits": functools.partial(run_imitate, supervised_logits_only=False),
        "transformers_trainer": run_transformers,
    }
    runs: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(args.repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            runs[name].append(variants[name](cfg, vocab_size, dataset, args))
    best = {name: max(values) for name, values in runs.items()}
    supervised = sum(int((row["labels"][1:] != IGNORE_INDEX).sum()) for row in dataset)
    result = {
        "model": args.model,
        "tokens_per_step": args.micro * args.accumulate * args.block_size,
        "supervised_fraction": supervised / sum(len(row["labels"]) - 1 for row in dataset),
        "threads": torch.get_num_threads(),
        "best_tokens_per_s": best,
        "ratio": best["imitate"] / best["transformers_trainer"],
        "ratio_full_logits": best["imitate_full_logits"] / best["transformers_trainer"],
        "all_runs": runs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
