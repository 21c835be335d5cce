"""MMLU, k-shot, in the original Hendrycks prompt format, scored by the log-prob of each answer letter."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from imitate import metrics
from imitate.data.paths import resolve_data_path
from imitate.eval.task_result import TaskResult
from imitate.llm.base import LLM

CHOICES = ("A", "B", "C", "D")
PROMPT_FORMAT = (
    "The following are multiple choice questions (with answers) about {subject}.\\n\\n"
    "+ k x [{question}\\nA. {a}\\nB. {b}\\nC. {c}\\nD. {d}\\nAnswer: {letter}\\n\\n]"
    " + {question}\\nA. ...\\nAnswer:  -> argmax over log p(' A'|...), ..., log p(' D'|...)"
)


def format_subject(subject: str) -> str:
    # Kept exactly as the original: each word gets a leading space, hence "about  anatomy".
    return "".join(" " + word for word in subject.split("_"))


def format_example(row: list[str], include_answer: bool = True) -> str:
    prompt = row[0]
    for letter, choice in zip(CHOICES, row[1:5], strict=True):
        prompt += f"\n{letter}. {choice}"
    prompt += "\nAnswer:"
    if include_answer:
        prompt += f" {row[5]}\n\n"
    return prompt


def gen_prompt(dev_rows: list[list[str]], subject: str, k: int) -> str:
    prompt = (
        "The following are multiple choice questions (with answers) about "
        f"{format_subject(subject)}.\n\n"
    )
    return prompt + "".join(format_example(row) for row in dev_rows[:k])


def read_rows(path: Path) -> list[list[str]]:
    """Rows of an original-format MMLU csv: question, A, B, C, D, answer letter; no header."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    for number, row in enumerate(rows, start=1):
        if len(row) != 6 or row[5] not in CHOICES:
            raise ValueError(
                f"{path}:{number}: expected 6 columns (question,A,B,C,D,answer) with the answer "
                f"in A-D, got {len(row)} columns ending in {row[-1:]!r}"
            )
    return rows


def list_subjects(data_dir: Path) -> list[str]:
    subjects = sorted(
        p.name.removesuffix("_test.csv") for p in (data_dir / "test").glob("*_test.csv")
    )
    if not subjects:
        raise FileNotFoundError(
            f"no MMLU test files (<subject>_test.csv) under {data_dir / 'test'}; point the mmlu "
            "task's `data` at a folder with dev/ and test/ in the original Hendrycks format"
        )
    return subjects


def accuracy_metrics(records: list[dict]) -> dict[str, float]:
    """Micro accuracy (over questions), macro (mean over subjects), one per subject, shots dropped."""
    by_subject: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        by_subject[r["subject"]].append(r["correct"])
    per_subject = {s: float(np.mean(v)) for s, v in by_subject.items()}
    result = {
        metrics.MMLU_ACC: float(np.mean([r["correct"] for r in records])),
        metrics.MMLU_ACC_MACRO: float(np.mean(list(per_subject.values()))),
        metrics.MMLU_FEWER_SHOTS: float(np.mean([r["fewer_shots"] for r in records])),
    }
    return result | {metrics.MMLU_ACC_SUBJECT + s: a for s, a in per_subject.items()}


class MMLUTask:
    """k-shot MMLU over `subjects` (all when None), `limit` test questions per subject."""

    name = "mmlu"
    prompt_format = PROMPT_FORMAT

    def __init__(
        self,
        data: str,
        shots: int = 5,
        subjects: list[str] | None = None,
        limit: int | None = None,
    ):
        self.data = data
        self.shots, self.subjects, self.limit = shots, subjects, limit

    def run(self, llm: LLM) -> TaskResult:
        data_dir = resolve_data_path(self.data, what="mmlu task `data`")
        records = []
        for subject in self.subjects or list_subjects(data_dir):
            dev = read_rows(data_dir / "dev" / f"{subject}_dev.csv")
            test = read_rows(data_dir / "test" / f"{subject}_test.csv")[: self.limit]
            prompts = [self.fit_prompt(dev, subject, row, llm) for row in test]
            records += self.score_subject(llm, subject, test, prompts)
        return TaskResult(accuracy_metrics(records), records, self.prompt_format)

    def fit_prompt(self, dev, subject, row, llm: LLM) -> tuple[str, int]:
        """The k-shot prompt, dropping shots (as the original does) until it fits the context.

        A backend that cannot count tokens or has no known context length gets all k shots.
        """
        k = self.shots
        while True:
            text = gen_prompt(dev, subject, k) + format_example(row, include_answer=False)
            if k == 0 or llm.context_length is None:
                return text, k
            tokens = llm.count_tokens(text)
            if tokens is None or tokens <= llm.context_length:
                return text, k
            k -= 1

    def score_subject(self, llm: LLM, subject, test, prompts) -> list[dict]:
        # Questions with the same number of shots share their whole few-shot prefix, which the
        # in-process backend computes once per call.
        by_shots: dict[int, list[int]] = defaultdict(list)
        for i, (_, k) in enumerate(prompts):
            by_shots[k].append(i)
        records: list[dict] = [{} for _ in test]
        for k, indices in by_shots.items():
            texts = [prompts[i][0] for i in indices]
            logprobs = llm.next_token_logprobs(texts, [" " + c for c in CHOICES])
            for i, row_logprobs in zip(indices, logprobs, strict=True):
                predicted = CHOICES[int(np.argmax(row_logprobs))]
                records[i] = {
                    "subject": subject,
                    "index": i,
                    "answer": test[i][5],
                    "predicted": predicted,
                    "correct": predicted == test[i][5],
                    "shots": k,
                    "fewer_shots": k < self.shots,
                    "logprobs": row_logprobs,
                }
        return records
