"""MFU of a ~1B LLaMA-shaped model at sequence length 2048 in bf16 on one GPU, with and without
activation checkpointing, through the real training path (``python -m imitate trainer=fsdp``).

The shape is TinyLlama-1.1B's (hidden 2048, 22 layers, 32 heads, 4 KV heads, MLP 5632) with
SmolLM2's tokenizer (offline), randomly initialised; data is the bundled ShareGPT. imitate logs
``train/mfu`` per optimizer step (6·N_non-embedding + 12·L·H·Q·T FLOPs per token over the GPU's
dense bf16 peak, ``imitate/model/flops.py``); this reports the median over the steps after the
first two (warm-up). MFU is itself a ratio to the device's peak; the activation-checkpointing run
is also reported as a ratio to the run without it, measured in the same invocation.

On a machine without a GPU in the table it says so and exits 0. ``--shape tiny --device cpu``
runs the same plumbing on the 2-layer test model (tokens/s only: CPUs have no MFU).

Run: python bench/bench_mfu.py [--steps 12] [--seq 2048] [--micro 4] [--global-batch 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from mlflow.tracking import MlflowClient

from imitate import metrics
from imitate.model import flops

SHAPES = {
    "1b": [
        "model.backbone.config.hidden_size=2048",
        "model.backbone.config.intermediate_size=5632",
        "model.backbone.config.num_hidden_layers=22",
        "model.backbone.config.num_attention_heads=32",
        "model.backbone.config.num_key_value_heads=4",
        "model.backbone.config.tie_word_embeddings=false",
    ],
    "tiny": [],  # tiny_llama as configured
}
WARMUP_STEPS = 2
EXPERIMENT = "bench_mfu"


def overrides(args, activation_checkpointing: bool, run_dir: Path) -> list[str]:
    tokens = args.steps * args.global_batch * args.seq
    return [
        "model=tiny_llama",
        *SHAPES[args.shape],
        "trainer=fsdp",
        f"trainer.accelerator={'gpu' if args.device == 'cuda' else 'cpu'}",
        "trainer.devices=1",
        "trainer.log_every_n_steps=1",
        f"parallel.param_dtype={'bfloat16' if args.device == 'cuda' else 'float32'}",
        f"parallel.activation_checkpointing={str(activation_checkpointing).lower()}",
        f"data.block_size={args.seq}",
        f"data.max_tokens={tokens}",
        "data.allow_smaller=false",
        f"batch.global_size={args.global_batch}",
        f"batch.micro_size={args.micro}",
        "optim.warmup_steps=1",
        "~eval.tasks.style",
        f"tracking.experiment={EXPERIMENT}",
        f"hydra.run.dir={run_dir}",
    ]


def train(args, activation_checkpointing: bool, workdir: Path) -> dict:
    name = f"ac_{'on' if activation_checkpointing else 'off'}"
    uri = f"sqlite:///{workdir / name}.db"
    command = [
        sys.executable,
        "-m",
        "imitate",
        *overrides(args, activation_checkpointing, workdir / name),
    ]
    done = subprocess.run(
        command, env=os.environ | {"MLFLOW_TRACKING_URI": uri}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    return steady_state(uri)


def steady_state(uri: str) -> dict:
    """Median of each per-step metric over the steps after the warm-up ones."""
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    result = {}
    for key in (metrics.TOKENS_PER_SECOND, flops.MFU):
        history = client.get_metric_history(run.info.run_id, key)
        values = [m.value for m in history if m.step >= WARMUP_STEPS]
        result[key] = statistics.median(values) if values else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1b")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--micro", type=int, default=4)
    parser.add_argument("--global-batch", type=int, default=32)
    args = parser.parse_args()
    if args.device == "cuda":
        accelerator = (
            flops.accelerator_of(torch.device("cuda")) if torch.cuda.is_available() else None
        )
        if accelerator is None:
            print(json.dumps({"skipped": "no GPU with a known bf16 peak (imitate/model/flops.py)"}))
            return
    with tempfile.TemporaryDirectory() as workdir:
        without = train(args, activation_checkpointing=False, workdir=Path(workdir))
        with_ac = train(args, activation_checkpointing=True, workdir=Path(workdir))
    tokens = metrics.TOKENS_PER_SECOND
    result = {
        "shape": args.shape,
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "seq": args.seq,
        "micro_batch": args.micro,
        "global_batch": args.global_batch,
        "no_activation_checkpointing": without,
        "activation_checkpointing": with_ac,
        "activation_checkpointing_tokens_per_s_ratio": with_ac[tokens] / without[tokens],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
