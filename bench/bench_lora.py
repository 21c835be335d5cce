"""LoRA vs full fine-tuning: training tokens/s, peak tensor memory, optimizer-state memory vs the plan.

Same model (SmolLM2-135M by default, its pretrained weights), the same packed ShareGPT blocks,
micro-batch and steps, one process on the CPU in fp32, each variant with the optimizer its config
gives it (full: the paper's RMS-scaled AdamW; ``adapter=lora``: plain AdamW, conf/adapter/lora.yaml).
Each step is imitate's own training step (``ImitationLM.training_step``: supervised positions
only) + backward + optimizer step. Variants alternate ``--repeats`` times; the best run of each
counts (a shared machine is noisy), the first step of each run (warm-up) is not timed. Each run is
its own process: peak memory is its resident set's peak while the model is built and trained, over
its size just before (data already prepared), sampled every 5 ms. (torch's MemTracker cannot
follow frozen weights.) The optimizer's state is summed tensor by tensor and set against
``imitate.plan``'s prediction.

Run: python bench/bench_lora.py [--model smollm2_135m] [--steps 4] [--block-size 128] [--micro 4]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import subprocess
import sys
import threading
import time

import psutil
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from imitate.data.format import ChatFormat, add_special_tokens
from imitate.model.adapters import AdapterConfig
from imitate.model.module import ImitationLM
from imitate.model.optim import OptimConfig
from imitate.plan import Setup, memory_per_device, model_shape

VARIANTS = ("none", "lora")


def compose_variant(args, adapter: str):
    overrides = [
        f"model={args.model}",
        f"adapter={adapter}",
        f"data.block_size={args.block_size}",
        f"data.max_tokens={args.block_size * args.micro * (args.steps + 2)}",
        "data.val_conversations=4",
        "data.heldout_prompts=1",
    ]
    with initialize_config_module(config_module="imitate.conf", version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def batches(cfg, args):
    tokenizer = instantiate(cfg.model.tokenizer)
    chat_format = ChatFormat(**cfg.data.chat_format)
    add_special_tokens(tokenizer, chat_format)
    datamodule = instantiate(cfg.data, micro_batch_size=args.micro, seed=cfg.seed)
    datamodule.prepare(tokenizer)
    loader = torch.utils.data.DataLoader(datamodule.train_set, batch_size=args.micro)
    markers = tuple(tokenizer.convert_tokens_to_ids(chat_format.markers()))
    return list(loader)[: args.steps + 2], len(tokenizer), markers


def build(cfg, vocab: int, markers: tuple[int, ...]):
    torch.manual_seed(cfg.seed)
    lm = ImitationLM(
        functools.partial(instantiate, cfg.model.backbone),
        OptimConfig(**cfg.optim),
        vocab_size=vocab,
        adapter=AdapterConfig(**cfg.adapter),
        role_token_ids=markers,
    )
    lm.configure_model()
    return lm, lm.configure_optimizers()["optimizer"]


def step(lm, optimizer, batch) -> None:
    lm.training_step(batch, 0).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


class PeakRSS:
    """The process's resident set's peak above its size at start, sampled in a thread."""

    def __init__(self, every_s: float = 0.005) -> None:
        self.process, self.every_s = psutil.Process(), every_s
        self.start = self.peak = self.process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(self.every_s):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    @property
    def grown(self) -> int:
        return self.peak - self.start


def run_variant(cfg, args) -> dict[str, float]:
    data, vocab, markers = batches(cfg, args)
    gc.collect()
    with PeakRSS() as memory:
        lm, optimizer = build(cfg, vocab, markers)
        step(lm, optimizer, data[0])  # warm-up, and the optimizer's states now exist
        start = time.perf_counter()
        for batch in data[1:-1]:
            step(lm, optimizer, batch)
        seconds = time.perf_counter() - start
    tokens = sum(int(b["attention_mask"].sum()) for b in data[1:-1])
    states = sum(
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if torch.is_tensor(t) and t.dim() > 0
    )
    return {"tokens_per_s": tokens / seconds, "peak_bytes": memory.grown, "optimizer_bytes": states}


def in_own_process(args, variant: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--variant", variant, "--model", args.model]
    command += ["--steps", str(args.steps), "--block-size", str(args.block_size)]
    command += ["--micro", str(args.micro)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{variant} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def planned_optimizer_bytes(cfg, args) -> float:
    adapter = AdapterConfig(**cfg.adapter)
    shape = model_shape(cfg.model.backbone, adapter)
    setup = Setup("single", 1, args.micro, args.block_size, 4, 4)
    return memory_per_device(shape, setup)["optimizer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2_135m")
    parser.add_argument("--steps", type=int, default=4, help="timed optimizer steps per run")
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--micro", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variant", choices=VARIANTS, help="(internal) one run, in this process")
    args = parser.parse_args()
    if args.variant:  # the same seed and data budget give both variants the same blocks
        print(json.dumps(run_variant(compose_variant(args, args.variant), args)))
        return
    configs = {variant: compose_variant(args, variant) for variant in VARIANTS}
    best: dict[str, dict[str, float]] = {}
    for repeat in range(args.repeats):
        for variant in VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]:
            result = in_own_process(args, variant)
            print(variant, json.dumps(result), flush=True)
            kept = best.get(variant)
            if kept is None or result["tokens_per_s"] > kept["tokens_per_s"]:
                best[variant] = result
    for variant in VARIANTS:
        planned = planned_optimizer_bytes(configs[variant], args)
        best[variant]["planned_optimizer_bytes"] = planned
        best[variant]["measured_over_planned"] = best[variant]["optimizer_bytes"] / planned
    full, lora = best["none"], best["lora"]
    summary = {
        "tokens_per_s_ratio_lora_over_full": lora["tokens_per_s"] / full["tokens_per_s"],
        "peak_memory_ratio_lora_over_full": lora["peak_bytes"] / full["peak_bytes"],
        "optimizer_memory_ratio_lora_over_full": lora["optimizer_bytes"] / full["optimizer_bytes"],
    }
    print(json.dumps({"args": vars(args), "best": best, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
