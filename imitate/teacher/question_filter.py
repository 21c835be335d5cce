"""Which generated questions are new: not a benchmark question, not a seed, not one already kept.

Questions are compared after the NQ-open normalisation (lowercase, no punctuation or articles):
an exact match is a duplicate; sentence BLEU >= `bleu_threshold` (the candidate is the
hypothesis, as for near-duplicate queries in :mod:`imitate.data.overlap`) is a near duplicate.
Short NQ-style questions share templates ("who played ... in ..."), so the threshold is far above
the 20 used for long prompts: measured on EfficientQA dev against NQ-open dev (different
questions), 59% of questions reach BLEU 20 to their nearest, 7% reach 50, 1.6% reach 60.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imitate.data.nearest import top_matches
from imitate.data.ngram_index import NgramIndex, build_index, pair_bleu
from imitate.data.text_normalise import normalize_answer
from imitate.teacher.replies import Candidate

# Rejection reasons, checked in this order; malformed-pair reasons come from imitate.teacher.replies.
ANSWER_TOO_LONG = "answer_too_long"
COPIES_SEED = "copies_seed"
DUPLICATE_OF_EVAL = "duplicate_of_eval"
DUPLICATE_OF_KEPT = "duplicate_of_kept"
NEAR_EVAL = "near_eval"
NEAR_KEPT = "near_kept"
OVER_N_EXAMPLES = "over_n_examples"  # the target was reached earlier in the same chunk


class QuestionFilter:
    """Judges candidates in order against the eval questions, the seeds and everything kept."""

    def __init__(
        self,
        eval_questions: Sequence[str],
        seed_questions: Sequence[str],
        bleu_threshold: float,
        max_answer_words: int | None,
    ):
        if not 0 < bleu_threshold <= 100:
            raise ValueError(f"near_duplicate_bleu={bleu_threshold}: expected 0 < value <= 100")
        self.eval_texts = [normalize_answer(q) for q in eval_questions]
        self.eval_keys = set(self.eval_texts)
        self.seed_keys = {normalize_answer(q) for q in seed_questions}
        self.bleu_threshold = bleu_threshold
        self.max_answer_words = max_answer_words
        self.kept_texts: list[str] = []
        self.kept_keys: set[str] = set()

    def keep(self, question: str) -> None:
        """Count `question` as kept (a rerun rebuilds the kept set from the output)."""
        key = normalize_answer(question)
        self.kept_texts.append(key)
        self.kept_keys.add(key)

    def judge(self, candidates: Sequence[Candidate], room: int) -> list[str | None]:
        """Per candidate, None (accepted: now kept) or its rejection reason; at most `room` accepted."""
        keys = [normalize_answer(c.question) for c in candidates]
        reasons = [self._static_reason(c, key) for c, key in zip(candidates, keys, strict=True)]
        live = [i for i, reason in enumerate(reasons) if reason is None]
        index = build_index(self.eval_texts + self.kept_texts + [keys[i] for i in live])
        first = len(self.eval_texts) + len(self.kept_texts)
        rows = {i: first + n for n, i in enumerate(live)}
        query_rows = np.array(list(rows.values()), dtype=np.int64)
        eval_rows = np.arange(len(self.eval_texts))
        kept_rows = np.arange(len(self.eval_texts), first)
        near_eval = dict(zip(live, _best_bleu(index, query_rows, eval_rows), strict=True))
        near_kept = dict(zip(live, _best_bleu(index, query_rows, kept_rows), strict=True))
        accepted_rows: list[int] = []
        accepted = 0
        for i, key in enumerate(keys):
            if accepted >= room:
                reasons[i] = OVER_N_EXAMPLES
            elif reasons[i] is not None:
                continue
            elif key in self.kept_keys:
                reasons[i] = DUPLICATE_OF_KEPT
            elif near_eval[i] >= self.bleu_threshold:
                reasons[i] = NEAR_EVAL
            elif (
                near_kept[i] >= self.bleu_threshold
                or _best_pair(index, rows[i], accepted_rows) >= self.bleu_threshold
            ):
                reasons[i] = NEAR_KEPT
            else:
                accepted += 1
                accepted_rows.append(rows[i])
                self.keep(candidates[i].question)
        return reasons

    def _static_reason(self, candidate: Candidate, key: str) -> str | None:
        """What is wrong with a candidate on its own, before it is compared with anything."""
        if candidate.problem is not None:
            return candidate.problem
        if (
            self.max_answer_words is not None
            and len(candidate.answer.split()) > self.max_answer_words
        ):
            return ANSWER_TOO_LONG
        if key in self.seed_keys:
            return COPIES_SEED
        if key in self.eval_keys:
            return DUPLICATE_OF_EVAL
        return None


def _best_bleu(index: NgramIndex, query_rows: np.ndarray, ref_rows: np.ndarray) -> np.ndarray:
    """Each query's BLEU to its most similar reference (0 with no references)."""
    if len(query_rows) == 0 or len(ref_rows) == 0:
        return np.zeros(len(query_rows))
    _, bleu = top_matches(index, query_rows, ref_rows, keep=1)
    return bleu[:, 0]


def _best_pair(index: NgramIndex, row: int, others: list[int]) -> float:
    if not others:
        return 0.0
    return float(pair_bleu(index, np.full(len(others), row), np.array(others)).max())
