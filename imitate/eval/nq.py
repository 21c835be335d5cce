"""Natural Questions (open), k-shot: greedy answer line, exact match after the standard normalisation."""

from __future__ import annotations

import random

import numpy as np

from imitate import metrics
from imitate.data.jsonl import load_records
from imitate.data.text_normalise import normalize_answer
from imitate.eval.task_result import TaskResult
from imitate.llm.base import LLM, GenerationRequest


def exact_match(prediction: str, gold_answers: list[str]) -> bool:
    predicted = normalize_answer(prediction)
    return any(predicted == normalize_answer(gold) for gold in gold_answers)


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


class NQTask:
    """k-shot NQ-open; shots come from `shots_data`, never from the questions being scored."""

    name = "nq"

    def __init__(
        self,
        data: str,
        shots_data: str,
        shots: int = 3,
        limit: int | None = None,
        split: str = "validation",
        shots_split: str = "train",
        question_template: str = "Q: {question}?\nA:",
        answer_template: str = " {answer}\n\n",
        max_new_tokens: int = 24,
        seed: int = 1234,
    ):
        self.data, self.shots_data, self.shots, self.limit = data, shots_data, shots, limit
        self.split, self.shots_split = split, shots_split
        self.question_template, self.answer_template = question_template, answer_template
        self.max_new_tokens, self.seed = max_new_tokens, seed
        self.prompt_format = f"k x [{question_template}{answer_template}] + {question_template}"

    def run(self, llm: LLM) -> TaskResult:
        questions = load_records(self.data, split=self.split, what="nq task `data`")[: self.limit]
        exemplars = self.pick_shots(questions)
        room = None if llm.context_length is None else llm.context_length - self.max_new_tokens
        prompts, used = zip(
            *(self.fit_prompt(exemplars, q, llm, room) for q in questions), strict=True
        )
        outputs = llm.generate(
            [
                GenerationRequest(prompt=p, max_new_tokens=self.max_new_tokens, stop=("\n",))
                for p in prompts
            ]
        )
        records = [
            self.record(q, first_line(out[0]), k)
            for q, out, k in zip(questions, outputs, used, strict=True)
        ]
        scores = {
            metrics.NQ_EM: float(np.mean([r["correct"] for r in records])),
            metrics.NQ_FEWER_SHOTS: float(np.mean([r["shots"] < self.shots for r in records])),
        }
        return TaskResult(scores, records, self.prompt_format)

    def pick_shots(self, questions: list[dict]) -> list[dict]:
        """`shots` seeded exemplars from `shots_data`, skipping any question also being scored."""
        scored = {normalize_answer(q["question"]) for q in questions}
        pool = load_records(self.shots_data, split=self.shots_split, what="nq task `shots_data`")
        pool = [r for r in pool if normalize_answer(r["question"]) not in scored]
        if len(pool) < self.shots:
            raise ValueError(
                f"nq task: shots_data={self.shots_data!r} has {len(pool)} questions not among those "
                f"scored, fewer than shots={self.shots}; use a disjoint split such as EfficientQA dev"
            )
        return random.Random(self.seed).sample(pool, self.shots)

    def fit_prompt(self, exemplars, question, llm: LLM, room: int | None) -> tuple[str, int]:
        """The k-shot prompt, dropping shots until it leaves room for the answer (when countable)."""
        k = len(exemplars)
        while True:
            prompt = "".join(
                self.question_template.format(question=e["question"])
                + self.answer_template.format(answer=e["answer"][0])
                for e in exemplars[:k]
            ) + self.question_template.format(question=question["question"])
            if room is None or k == 0:
                return prompt, k
            tokens = llm.count_tokens(prompt)
            if tokens is None or tokens <= room:
                return prompt, k
            k -= 1

    @staticmethod
    def record(question: dict, prediction: str, shots: int) -> dict:
        return {
            "question": question["question"],
            "gold": question["answer"],
            "prediction": prediction,
            "correct": exact_match(prediction, question["answer"]),
            "shots": shots,
        }
