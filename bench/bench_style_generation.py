"""The style task's generation: batched `generate_replies` vs one `model.generate` per prompt, and its share of a cell.

Run: python bench/bench_style_generation.py [--model smollm2_135m|tiny] [--prompts 16]
     [--max-new-tokens 128] [--threads 1] [--repeats 1] [--cell-budgets 8k,24k,72k]
Prints one JSON object. Both parts build the model as a training run's evaluation does (the
`model` group's backbone and tokenizer, imitate's chat template, generation ending at the
end-of-reply token) and take the style task's prompts from its config: Vicuna-80 from
../shared/data, or, when that is absent, the bundled ShareGPT data's held-out prompts.
- throughput: the first `--prompts` prompts, greedy, `--max-new-tokens`, through
  `generate_replies` on `HFClient` at the style task's batch size (eval.client.batch_size) vs the
  same chat-templated prompt ids through `model.generate` one prompt at a time with the same end
  tokens; reply tokens/s of each (replies re-tokenised, as the task counts them), the ratio
  (target >= 3 on CPU) and how many greedy texts agree, with the first difference;
- cell: the style task as `+sweep=mini_contrast` runs it (eval=quick's settings), timed on the
  same model, against a cell's estimated wall time: its training budget at `--train-tokens-per-s`
  plus `--other-eval-s` for the rest of eval=quick (the base model's step-0 results are cached
  by fingerprint after the first cell, so a cell runs the task once).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from imitate.config_schema import register as register_train_schema
from imitate.data.format import ChatFormat, ConversationEncoder, add_special_tokens
from imitate.data.report import DataReport
from imitate.llm.base import GenerationRequest, user_turn
from imitate.llm.hf import HFClient
from imitate.model import parallel
from imitate.style.generations import generate_replies
from imitate.train import stop_at_end_of_reply

CONF = str(Path(__file__).resolve().parents[1] / "conf")  # this checkout's, not an installed copy's
MODELS = {"smollm2_135m": "smollm2_135m", "tiny": "tiny_llama"}


def compose_cfg(model: str, suite: str, overrides: list[str]):
    register_train_schema()  # train.yaml's typed defaults, as `python -m imitate` registers them
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("train", [f"model={MODELS[model]}", f"eval={suite}", *overrides])


def build_client(cfg) -> HFClient:
    """The model and tokenizer as `imitate.train.evaluate` hands them to the tasks."""
    tokenizer = instantiate(cfg.model.tokenizer)
    chat_format = ChatFormat(**cfg.data.chat_format)
    add_special_tokens(tokenizer, chat_format)
    torch.manual_seed(cfg.seed)  # the tiny model's random weights
    model = parallel.resized(instantiate(cfg.model.backbone), len(tokenizer)).eval()
    stop_at_end_of_reply(model, ConversationEncoder(tokenizer, chat_format))
    return HFClient(model, tokenizer, **cfg.eval.client)


def style_task(cfg, model: str, heldout_prompts: int):
    """The suite's style task and its held-out split: Vicuna-80, or the bundled ShareGPT held-out."""
    task_cfg = cfg.eval.tasks.style
    if Path(task_cfg.prompts.prompts.path).is_file():
        return instantiate(task_cfg, _convert_="all"), "vicuna80 (../shared/data)"
    cfg = compose_cfg(
        model,
        "heldout",
        [f"data.heldout_prompts={heldout_prompts}"]
        + [f"data.val_conversations={heldout_prompts}", "data.max_tokens=4096"],
    )
    tokenizer = instantiate(cfg.model.tokenizer)
    add_special_tokens(tokenizer, ChatFormat(**cfg.data.chat_format))
    datamodule = instantiate(cfg.data, micro_batch_size=cfg.batch.micro_size, seed=cfg.seed)
    datamodule.prepare(tokenizer)
    task = instantiate(cfg.eval.tasks.style, _convert_="all", heldout=datamodule.heldout)
    task.limit = task_cfg.limit
    return task, "held-out ShareGPT (bundled; ../shared/data's Vicuna-80 absent)"


def one_at_a_time(llm: HFClient, prompts: list[str], max_new_tokens: int) -> list[str]:
    """transformers' own generate, batch 1, on the same prompt ids and end tokens as the task."""
    model, tokenizer, ends = llm.model, llm.tokenizer, llm.end_token_ids()
    replies = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = llm.prompt_ids(GenerationRequest(user_turn(prompt)))
            ids_tensor = torch.tensor([ids], device=model.device)
            new = model.generate(
                input_ids=ids_tensor,
                attention_mask=torch.ones_like(ids_tensor),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=ends,
                pad_token_id=tokenizer.pad_token_id,
            )[0, len(ids) :].tolist()
            end = next((i for i, token in enumerate(new) if token in ends), len(new))
            replies.append(tokenizer.decode(new[:end], skip_special_tokens=True).strip())
    return replies


def throughput(cfg, task, args) -> dict:
    llm = build_client(cfg)
    items = task.items(DataReport())[: args.prompts]
    prompts = [item.prompt for item in items]
    generate_replies(llm, items[:1], 4), one_at_a_time(llm, prompts[:1], 4)  # warm-up
    batched_s, single_s = [], []
    for _ in range(args.repeats):  # alternating, best of each: the machine is shared
        started = time.perf_counter()
        batched = [row["model_reply"] for row in generate_replies(llm, items, args.max_new_tokens)]
        batched_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        single = one_at_a_time(llm, prompts, args.max_new_tokens)
        single_s.append(time.perf_counter() - started)
    batched_tokens = sum(llm.count_tokens(reply) for reply in batched)
    single_tokens = sum(llm.count_tokens(reply) for reply in single)
    batched_rate = batched_tokens / min(batched_s)
    single_rate = single_tokens / min(single_s)
    differing = [i for i, (a, b) in enumerate(zip(batched, single, strict=True)) if a != b]
    return {
        "prompts": len(items),
        "batch_size": llm.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "batched_s": [round(s, 2) for s in batched_s],
        "one_at_a_time_s": [round(s, 2) for s in single_s],
        "batched_reply_tokens": batched_tokens,
        "one_at_a_time_reply_tokens": single_tokens,
        "batched_tokens_per_s": round(batched_rate, 2),
        "one_at_a_time_tokens_per_s": round(single_rate, 2),
        "ratio": round(batched_rate / single_rate, 2),
        "identical_texts": len(items) - len(differing),
        "replies_at_token_limit": sum(
            llm.count_tokens(r) >= args.max_new_tokens - 1 for r in single
        ),
        "first_difference": first_difference(items, batched, single, differing),
    }


def first_difference(items, batched: list[str], single: list[str], differing: list[int]):
    if not differing:
        return None
    i = differing[0]
    a, b = batched[i], single[i]
    split = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))  # fmt: skip
    return {
        "id": items[i].id,
        "common_prefix_chars": split,
        "batched": a[max(0, split - 40) : split + 80],
        "one_at_a_time": b[max(0, split - 40) : split + 80],
    }


def cell_share(args) -> dict:
    """The style task as a mini-contrast cell runs it (eval=quick), timed, against the cell's total."""
    cfg = compose_cfg(args.model, "quick", [])
    task, prompt_set = style_task(cfg, args.model, heldout_prompts=8)
    llm = build_client(cfg)
    started = time.perf_counter()
    result = task.run(llm)
    style_s = time.perf_counter() - started
    cells = {}
    for budget in args.cell_budgets.split(","):
        train_s = parse_tokens(budget) / args.train_tokens_per_s
        total_s = train_s + args.other_eval_s + style_s
        cells[budget] = {
            "train_s_estimated": round(train_s, 1),
            "cell_s_estimated": round(total_s, 1),
            "style_share": round(style_s / total_s, 3),
        }
    return {
        "prompt_set": prompt_set,
        "prompts": int(result.metrics["style/prompts"]),
        "max_new_tokens": task.max_new_tokens,
        "batch_size": llm.batch_size,
        "style_task_s": round(style_s, 2),
        "train_tokens_per_s_assumed": args.train_tokens_per_s,
        "other_eval_s_assumed": args.other_eval_s,
        "cells": cells,
    }


def parse_tokens(budget: str) -> float:
    scale = {"k": 1e3, "m": 1e6}.get(budget[-1].lower(), 1.0)
    return float(budget[:-1] if scale != 1.0 else budget) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2_135m", choices=sorted(MODELS))
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (both sides)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cell-budgets", default="8k,24k,72k", help="mini_contrast's max_tokens")
    parser.add_argument("--train-tokens-per-s", type=float, default=150.0, help="idle SmolLM2")
    parser.add_argument("--other-eval-s", type=float, default=69.0, help="rest of eval=quick")
    parser.add_argument("--skip-cell", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = compose_cfg(args.model, "paper", [])
    task, prompt_set = style_task(cfg, args.model, heldout_prompts=args.prompts)
    task.limit = None
    result = {
        "model": args.model,
        "prompt_set": prompt_set,
        "torch_threads": torch.get_num_threads(),
        "load_average_start": os.getloadavg(),
        "throughput": throughput(cfg, task, args),
    }
    print(json.dumps(result), flush=True)  # the first part, in case the cell part is cut short
    if not args.skip_cell:
        result["cell"] = cell_share(args)
    result["load_average_end"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
