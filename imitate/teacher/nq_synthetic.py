"""NQ-synthetic (paper §3, local imitation): a few seed Natural Questions pairs grown by a teacher.

Request order, which is what "no gaps" means. Request i (i = 0, 1, 2, ...) shows the teacher
`shown_per_request` seed pairs drawn by `random.Random(f"{seed}:{i}")`, redrawn (`f"{seed}:{i}:{k}"`,
k = 1, 2, ...) while that prompt is one an earlier request already sent, and asks for
`pairs_per_request` new ones. So no two requests of a run are the same bytes (an identical one
would be answered from the cache and its pairs rejected as duplicates), and request i is the same
on every run (a function of the seed, i and the settings), so a rerun is answered from the
client's request cache. Requests go out in chunks [kB, (k+1)B), B = `batch_size`. A chunk's
candidates are judged one by one in (request, place in reply) order against the benchmark
questions, the seeds and everything kept before them (:mod:`imitate.teacher.question_filter`);
the accepted ones are appended and the chunk committed. So the output always equals an
uninterrupted run with the same settings stopped after some chunk: a killed run is cut back to its
last committed chunk and resumes with the next. The job ends once `n_examples` are kept or
`max_requests` were sent; a larger `n_examples` on a rerun continues from there.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from imitate.data.jsonl import read_jsonl
from imitate.data.leakage import load_eval_prompts
from imitate.data.paths import resolve_data_path
from imitate.llm.base import LLM, BudgetExceeded, GenerationRequest, stable_hash, user_turn
from imitate.teacher.question_filter import QuestionFilter
from imitate.teacher.replies import parse_pairs
from imitate.teacher.store import ResumableOutput
from imitate.teacher.tally import Tally, add_usage, usage_before

log = logging.getLogger(__name__)

JOB = "nq_synthetic"
_REQUEST_SLACK = 5  # default max_requests: 5 x the requests n_examples needs if all were kept
# How request i is derived: recorded in the settings, so an output begun with another derivation
# is not continued with this one (1: one draw per request, repeats possible; 2: redrawn until new).
REQUEST_DERIVATION = 2
_MAX_REDRAWS = 100_000  # only duplicate seed rows can exhaust the distinct prompts this early


@dataclass(frozen=True)
class Prompt:
    """The teacher prompt: `template` gets {examples} (the shown pairs) and {n_new}."""

    template: str
    example: str = "Q: {question} A: {answer}"
    system: str | None = None

    def __post_init__(self) -> None:
        for name, text, keys in (
            ("template", self.template, {"examples": "", "n_new": 1}),
            ("example", self.example, {"question": "", "answer": ""}),
        ):
            try:
                text.format(**keys)
            except (KeyError, IndexError, ValueError) as err:
                raise ValueError(
                    f"generate.prompt.{name}: {err!r}; it may use only the placeholders "
                    f"{', '.join('{' + k + '}' for k in keys)}"
                ) from err


class NQSyntheticJob:
    """`python -m imitate.generate generate=nq_synthetic llm=<teacher>` (conf/generate/nq_synthetic.yaml)."""

    def __init__(
        self,
        output: str,
        prompt: Mapping,
        seed_file: str,
        exclude_questions: Sequence[str] = (),
        n_examples: int = 200,
        seed: int = 1234,
        n_seed: int = 10,
        seed_indices: Sequence[int] | None = None,
        shown_per_request: int = 5,
        pairs_per_request: int = 10,
        batch_size: int = 8,
        max_requests: int | None = None,
        near_duplicate_bleu: float = 60.0,
        max_answer_words: int | None = 20,
        temperature: float = 1.0,
        max_new_tokens: int = 768,
    ):
        if min(n_examples, n_seed, shown_per_request, pairs_per_request, batch_size) < 1:
            raise ValueError(
                "generate: n_examples, n_seed, shown_per_request, pairs_per_request and "
                "batch_size must all be >= 1"
            )
        self.output, self.prompt = output, Prompt(**dict(prompt))
        self.seed_file, self.exclude_questions = seed_file, list(exclude_questions)
        self.n_examples, self.seed, self.n_seed = n_examples, seed, n_seed
        self.seed_indices = None if seed_indices is None else [int(i) for i in seed_indices]
        self.shown, self.pairs_per_request = shown_per_request, pairs_per_request
        self.batch_size = batch_size
        self.max_requests = max_requests or _REQUEST_SLACK * math.ceil(
            n_examples / pairs_per_request
        )
        self.near_duplicate_bleu, self.max_answer_words = near_duplicate_bleu, max_answer_words
        self.temperature, self.max_new_tokens = temperature, max_new_tokens
        self.seeds = self._seed_pairs()
        orderings = math.perm(len(self.seeds), self.shown)
        if self.max_requests > orderings:
            raise ValueError(
                f"generate.max_requests={self.max_requests}: {len(self.seeds)} seed pairs shown "
                f"{self.shown} at a time give only {orderings} distinct requests; raise n_seed, "
                "or lower n_examples or max_requests"
            )
        self._texts: list[str] = []  # request i's prompt, derived in order (see request_text)
        self._sent_texts: set[str] = set()
        files: list[str | Path] = [
            resolve_data_path(f, what="generate.exclude_questions") for f in exclude_questions
        ]
        self.eval_questions = [p.text for p in load_eval_prompts(files)]

    def request(self, index: int) -> GenerationRequest:
        """Request `index`: always the same shown pairs, so always the same cache key."""
        return GenerationRequest(
            messages=user_turn(self.request_text(index), self.prompt.system),
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
        )

    def request_text(self, index: int) -> str:
        """The user turn of request `index`, unlike that of every request before it."""
        while len(self._texts) <= index:  # each depends on those before: derive them in order
            self._texts.append(self._next_distinct_text(len(self._texts)))
        return self._texts[index]

    def _next_distinct_text(self, index: int) -> str:
        for redraw in range(_MAX_REDRAWS):
            name = f"{self.seed}:{index}" + (f":{redraw}" if redraw else "")
            shown = random.Random(name).sample(self.seeds, self.shown)
            examples = "\n".join(self.prompt.example.format(**pair) for pair in shown)
            text = self.prompt.template.format(examples=examples, n_new=self.pairs_per_request)
            if text not in self._sent_texts:
                self._sent_texts.add(text)
                return text
        raise ValueError(
            f"generate: request {index} found no prompt unlike the {index} before it in "
            f"{_MAX_REDRAWS} draws; the seed rows repeat each other: choose other seed_indices "
            "or a larger n_seed"
        )

    def run(self, llm: LLM) -> dict:
        """Generate (or continue) until `n_examples` are kept; returns the final manifest."""
        with ResumableOutput(self.output, self.settings(llm)) as store:
            return self._run(llm, store)

    def _run(self, llm: LLM, store: ResumableOutput) -> dict:
        earlier = store.earlier or {}
        tally = Tally.from_manifest(earlier)
        before = usage_before(llm, earlier, [self.request(i) for i in self._chunk(tally)])
        runs = earlier.get("runs", 0) + 1
        # committed before anything is sent: what this run pays is found again if it is killed
        store.commit(self._manifest(llm, tally, before, "running", runs))
        question_filter = QuestionFilter(
            self.eval_questions,
            [pair["question"] for pair in self.seeds],
            self.near_duplicate_bleu,
            self.max_answer_words,
        )
        for record in store.records():
            question_filter.keep(record["question"])
        stopped = "max_requests"
        while tally.accepted < self.n_examples and tally.requests < self.max_requests:
            chunk = self._chunk(tally)
            try:
                replies = llm.generate([self.request(i) for i in chunk])
            except BudgetExceeded as err:
                log.warning("stopping: %s (every reply so far is cached)", err)
                stopped = "budget"
                break
            store.append(self._judge(chunk, replies, question_filter, tally))
            usage = add_usage(before, llm.usage_metrics())
            store.commit(self._manifest(llm, tally, usage, "running", runs))
        if tally.accepted >= self.n_examples:
            stopped = "n_examples"
        elif stopped == "max_requests":
            log.warning(
                "stopping after max_requests=%d with %d of n_examples=%d kept; see the "
                "rejections in %s",
                self.max_requests,
                tally.accepted,
                self.n_examples,
                store.manifest_path,
            )
        usage = add_usage(before, llm.usage_metrics())
        return store.commit(self._manifest(llm, tally, usage, stopped, runs))

    def _chunk(self, tally: Tally) -> range:
        """The requests the next `llm.generate` call sends."""
        return range(tally.requests, min(tally.requests + self.batch_size, self.max_requests))

    def _judge(self, chunk: range, replies, question_filter: QuestionFilter, tally: Tally) -> list:
        """The chunk's accepted records; its candidates are judged in one pass, in order."""
        candidates, requests = [], []
        for index, texts in zip(chunk, replies, strict=True):
            parsed = parse_pairs(texts[0])
            tally.requests += 1
            tally.unparsed_lines += parsed.unparsed_lines
            tally.replies_without_pairs += not parsed.candidates
            candidates += parsed.candidates
            requests += [index] * len(parsed.candidates)
        reasons = question_filter.judge(candidates, self.n_examples - tally.accepted)
        records, accepted_of = [], Counter[int]()
        for candidate, index, reason in zip(candidates, requests, reasons, strict=True):
            tally.add(reason)
            if reason is None:
                number, accepted_of[index] = accepted_of[index], accepted_of[index] + 1
                records.append(
                    {
                        "id": f"{JOB}-{index:06d}-{number}",
                        "question": candidate.question,
                        "answer": candidate.answer,
                        "request": index,
                    }
                )
        return records

    def settings(self, llm: LLM) -> dict:
        """What decides the records (not how many): a rerun must match it to continue."""
        return {
            "job": JOB,
            "request_derivation": REQUEST_DERIVATION,
            "teacher": llm.fingerprint(),
            "prompt": vars(self.prompt),
            "seed": self.seed,
            "seed_pairs": self.seeds,
            "shown_per_request": self.shown,
            "pairs_per_request": self.pairs_per_request,
            "batch_size": self.batch_size,
            "exclude_questions": stable_hash(sorted(self.eval_questions)),
            "near_duplicate_bleu": self.near_duplicate_bleu,
            "max_answer_words": self.max_answer_words,
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
        }

    def _manifest(self, llm, tally, usage, stopped, runs) -> dict:
        return {
            "job": JOB,
            "teacher": {"name": llm.name, "fingerprint": llm.fingerprint()},
            "prompt": vars(self.prompt),
            "seed": {"file": self.seed_file, "indices": self.seed_indices, "pairs": self.seeds},
            "exclude_questions": {
                "files": self.exclude_questions,
                "count": len(self.eval_questions),
            },
            "n_examples": self.n_examples,
            "max_requests": self.max_requests,
            "counts": tally.as_dict(),
            "usage": usage,
            "stopped": stopped,  # running | n_examples | max_requests | budget
            "runs": runs,
        }

    def _seed_pairs(self) -> list[dict]:
        """The seed pairs; `seed_indices` defaults to a seeded choice of `n_seed` rows (recorded)."""
        records = _qa_records(self.seed_file)
        if self.seed_indices is None:
            if len(records) < self.n_seed:
                raise ValueError(
                    f"generate.seed_file={self.seed_file!r} has {len(records)} QA pairs, fewer "
                    f"than n_seed={self.n_seed}"
                )
            self.seed_indices = sorted(
                random.Random(self.seed).sample(range(len(records)), self.n_seed)
            )
        bad = [i for i in self.seed_indices if not 0 <= i < len(records)]
        if bad or len(self.seed_indices) < self.shown:
            raise ValueError(
                f"generate.seed_indices={self.seed_indices}: need >= shown_per_request="
                f"{self.shown} rows of {self.seed_file!r}, each in 0..{len(records) - 1}"
            )
        return [records[i] for i in self.seed_indices]


def _qa_records(path: str) -> list[dict]:
    """{"question", "answer"} rows of a JSONL file; NQ answer lists give their first answer."""
    file = resolve_data_path(path, what="generate.seed_file")
    records = []
    for number, record in read_jsonl(file):  # a line that is not JSON raises, naming path:line
        answer = record.get("answer") if isinstance(record, dict) else None
        answer = answer[0] if isinstance(answer, list) and answer else answer
        if not isinstance(answer, str) or not isinstance(record.get("question"), str):
            raise ValueError(
                f"generate.seed_file {file}:{number}: a seed row needs a 'question' string and "
                "an 'answer' (a string or a list of them)"
            )
        records.append({"question": record["question"], "answer": answer})
    return records
