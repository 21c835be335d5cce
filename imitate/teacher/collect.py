"""Collect: a teacher's replies to your own prompts, as a ShareGPT-format conversation dataset.

Row r of the prompt file (JSONL or CSV, read through `fields`) becomes one request: the system
text (the row's, else `system_prompt`) and the prompt as the user turn. Rows go out in chunks of
`batch_size` through one `llm.generate` call each, so the client's concurrency is used; each
chunk's conversations are appended in row order and committed. A killed run is cut back to its last
committed chunk and continues with the next row, so every row is in the output at most once, in
file order. Bad rows and empty replies are counted by reason in the manifest, never fatal.
Each line is `{"id", "conversations": [{"from": "system"|"human"|"gpt", "value"}], "row"}`:
train on it with `data.sources.<name>.path=<output>` (format `sharegpt`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from imitate.data.paths import resolve_data_path
from imitate.llm.base import LLM, BudgetExceeded, GenerationRequest, user_turn
from imitate.teacher.prompt_file import PROMPTS_KEY, FieldMap, PromptRow, read_prompt_rows
from imitate.teacher.store import ResumableOutput
from imitate.teacher.tally import add_usage, usage_before

log = logging.getLogger(__name__)

JOB = "collect"
EMPTY_REPLY = "empty_reply"


class CollectJob:
    """`python -m imitate.generate generate=collect generate.prompts=<file> llm=<teacher>`."""

    def __init__(
        self,
        prompts: str,
        output: str,
        fields: Mapping | None = None,
        file_format: str = "auto",
        system_prompt: str | None = None,
        batch_size: int = 16,
        temperature: float = 0.0,
        max_new_tokens: int = 1024,
    ):
        if batch_size < 1:
            raise ValueError(f"generate.batch_size={batch_size}: expected >= 1")
        self.prompts, self.output = prompts, output
        self.fields = FieldMap(**dict(fields or {}))
        self.file_format, self.system_prompt = file_format, system_prompt
        self.batch_size = batch_size
        self.temperature, self.max_new_tokens = temperature, max_new_tokens
        self.prompts_file = resolve_data_path(prompts, what=PROMPTS_KEY)
        self.rows = read_prompt_rows(self.prompts_file, self.fields, file_format)

    def request(self, row: PromptRow) -> GenerationRequest:
        return GenerationRequest(
            messages=user_turn(row.prompt, row.system or self.system_prompt),
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
        )

    def run(self, llm: LLM) -> dict:
        """Ask the teacher every good row not yet committed; returns the final manifest."""
        with ResumableOutput(self.output, self.settings(llm)) as store:
            return self._run(llm, store)

    def _run(self, llm: LLM, store: ResumableOutput) -> dict:
        earlier = store.earlier or {}
        counts = Counter(earlier.get("counts", {}).get("by_reason", {}))
        done = earlier.get("rows_done", 0)
        before = usage_before(llm, earlier, self._requests(done))
        runs, stopped = earlier.get("runs", 0) + 1, "done"
        # committed before anything is sent: what this run pays is found again if it is killed
        store.commit(self._manifest(llm, done, store.written, counts, before, "running", runs))
        while done < len(self.rows):
            chunk = self.rows[done : done + self.batch_size]
            good = [row for row in chunk if row.problem is None]
            try:
                replies = llm.generate(self._requests(done)) if good else []
            except BudgetExceeded as err:
                log.warning("stopping: %s (every reply so far is cached)", err)
                stopped = "budget"
                break
            store.append(self._conversations(chunk, good, replies, counts))
            done += len(chunk)
            usage = add_usage(before, llm.usage_metrics())
            store.commit(self._manifest(llm, done, store.written, counts, usage, "running", runs))
        usage = add_usage(before, llm.usage_metrics())
        return store.commit(self._manifest(llm, done, store.written, counts, usage, stopped, runs))

    def _requests(self, done: int) -> list[GenerationRequest]:
        """The requests of the next chunk: its good rows from row `done` on."""
        chunk = self.rows[done : done + self.batch_size]
        return [self.request(row) for row in chunk if row.problem is None]

    def _conversations(self, chunk, good, replies, counts: Counter) -> list[dict]:
        reply_of = {row.row: texts[0] for row, texts in zip(good, replies, strict=True)}
        records = []
        for row in chunk:
            if row.problem is not None:
                counts[row.problem] += 1
                continue
            reply = reply_of[row.row]
            if not reply.strip():
                counts[EMPTY_REPLY] += 1
                continue
            system = row.system or self.system_prompt
            turns = [{"from": "system", "value": system}] if system else []
            turns += [{"from": "human", "value": row.prompt}, {"from": "gpt", "value": reply}]
            records.append({"id": row.id, "conversations": turns, "row": row.row})
        return records

    def settings(self, llm: LLM) -> dict:
        """What decides the records: a rerun must match it to continue the same output."""
        return {
            "job": JOB,
            "teacher": llm.fingerprint(),
            "prompts_sha256": _sha256(self.prompts_file),
            "fields": vars(self.fields),
            "system_prompt": self.system_prompt,
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
        }

    def _manifest(self, llm, done, written, counts, usage, stopped, runs) -> dict:
        bad = {reason: n for reason, n in sorted(counts.items()) if reason != EMPTY_REPLY}
        return {
            "job": JOB,
            "teacher": {"name": llm.name, "fingerprint": llm.fingerprint()},
            "prompts": self.prompts,
            "rows_done": done,  # rows 0..rows_done-1 are settled: written, bad or empty reply
            "counts": {
                "rows": len(self.rows),
                "conversations": written,
                "bad_rows": sum(bad.values()),
                "empty_replies": counts[EMPTY_REPLY],
                "by_reason": dict(sorted(counts.items())),
            },
            "usage": usage,
            "stopped": stopped,  # running | done | budget
            "runs": runs,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
