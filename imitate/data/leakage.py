"""Held-out prompts that overlap the training data (the paper: BLEU > 20 to any training example).

A "training example" is one user turn of a training conversation; the eval prompt is the BLEU
hypothesis, the training turn the reference. Candidates come from the n-gram index
(:mod:`imitate.data.nearest`); each one near the threshold is re-scored with
``sacrebleu.sentence_bleu`` and that score makes the decision.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import sacrebleu

from imitate.data.conversations import USER
from imitate.data.jsonl import read_jsonl
from imitate.data.nearest import SearchSettings, top_matches
from imitate.data.ngram_index import build_index
from imitate.data.paths import resolve_data_path
from imitate.data.report import DataReport

log = logging.getLogger(__name__)

DIRECTIONS = ("drop_eval", "drop_train")
# Field holding the prompt in each eval set we ship configs for: Koala/AlpacaEval/self-instruct/
# Vicuna-80 (old and llm_judge formats, MT-Bench).
PROMPT_FIELDS = ("prompt", "instruction", "text", "question", "turns")
_SCORE_MARGIN = 1.0  # bulk scores this close under the threshold are re-checked with sacrebleu


@dataclass(frozen=True)
class LeakageConfig:
    """``data.leakage``: which eval prompts to protect, and what to drop when one leaks."""

    eval_prompt_files: tuple[str, ...] = ()
    direction: str = "drop_eval"
    bleu_threshold: float = 20.0

    @classmethod
    def from_mapping(cls, cfg: Mapping | LeakageConfig, key: str = "data.leakage") -> LeakageConfig:
        if isinstance(cfg, LeakageConfig):
            return cfg
        values = dict(cfg)
        valid = {f.name for f in fields(cls)}
        if set(values) - valid:
            raise ValueError(
                f"{key}: unknown key(s) {sorted(set(values) - valid)}; valid keys: {sorted(valid)}"
            )
        values["eval_prompt_files"] = tuple(str(p) for p in values.get("eval_prompt_files") or ())
        return cls(**values)


@dataclass(frozen=True)
class EvalPrompt:
    file: str
    id: str
    text: str


@dataclass(frozen=True)
class Leak:
    """One eval prompt / training turn pair over the threshold: one line of the removal report."""

    eval_file: str
    eval_id: str
    train_id: str
    bleu: float
    eval_text: str
    train_text: str


@dataclass
class LeakageResult:
    train: list[dict]
    eval_prompts: list[EvalPrompt]
    leaks: list[Leak]

    def removal_records(self) -> list[dict]:
        return [asdict(leak) for leak in self.leaks]


def load_eval_prompts(paths: list[str | Path]) -> list[EvalPrompt]:
    """Prompts from JSON-array or JSONL files; multi-turn records give one prompt per turn."""
    prompts = []
    for given in paths:
        path = resolve_data_path(given, what="data.leakage.eval_prompt_files")
        for position, record in enumerate(_read_records(path)):
            prompts.extend(_prompts_of(record, path, position))
    return prompts


def _read_records(path: Path) -> list:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}:{error.lineno}: not a valid JSON array ({error.msg})"
            ) from None
    return [record for _, record in read_jsonl(path)]  # a bad line is an error: path:line


def _prompts_of(record: object, path: Path, position: int) -> list[EvalPrompt]:
    where = f"{path} record {position}"
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    field = next((f for f in PROMPT_FIELDS if f in record), None)
    if field is None:
        raise ValueError(
            f"{where}: no prompt field; expected one of {PROMPT_FIELDS}, got {sorted(record)}"
        )
    texts = record[field] if isinstance(record[field], list) else [record[field]]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{where}: {field!r} must be a string or a list of strings")
    record_id = str(record.get("id", record.get("question_id", position)))
    suffix = (lambda turn: f"#turn{turn}") if len(texts) > 1 else (lambda turn: "")
    return [
        EvalPrompt(str(path), record_id + suffix(turn), text) for turn, text in enumerate(texts)
    ]


def find_leaks(
    eval_prompts: list[EvalPrompt],
    train: list[dict],
    bleu_threshold: float,
    settings: SearchSettings | None = None,
) -> list[Leak]:
    """Every (eval prompt, training user turn) pair with sacrebleu sentence BLEU > threshold."""
    settings = settings or SearchSettings()
    turns = [(c["id"], t["content"]) for c in train for t in c["turns"] if t["role"] == USER]
    if not eval_prompts or not turns:
        return []
    index = build_index([p.text for p in eval_prompts] + [text for _, text in turns])
    eval_rows = np.arange(len(eval_prompts))
    train_rows = np.arange(len(eval_prompts), len(index))
    found, bulk = top_matches(
        index, eval_rows, train_rows, keep=settings.candidates, settings=settings
    )
    leaks = []
    for prompt, refs, scores in zip(eval_prompts, found, bulk, strict=True):
        near = [
            int(r)
            for r, s in zip(refs, scores, strict=True)
            if r >= 0 and s > bleu_threshold - _SCORE_MARGIN
        ]
        if len(near) == len(refs):
            log.warning(
                "eval prompt %s: all %d candidate slots are over the threshold; more training "
                "turns may leak than are reported (drop_train could miss some)",
                prompt.id,
                len(refs),
            )
        for row in near:
            train_id, train_text = turns[row - len(eval_prompts)]
            score = sacrebleu.sentence_bleu(prompt.text, [train_text]).score
            if score > bleu_threshold:
                leaks.append(Leak(prompt.file, prompt.id, train_id, score, prompt.text, train_text))
    return leaks


def filter_leakage(
    train: list[dict],
    eval_prompts: list[EvalPrompt],
    report: DataReport,
    direction: str = "drop_eval",
    bleu_threshold: float = 20.0,
    settings: SearchSettings | None = None,
) -> LeakageResult:
    """Drop leaked eval prompts (``drop_eval``) or the training conversations they leak into."""
    if direction not in DIRECTIONS:
        raise ValueError(f"data.leakage.direction={direction!r}; valid: {', '.join(DIRECTIONS)}")
    leaks = find_leaks(eval_prompts, train, bleu_threshold, settings)
    for leak in leaks:
        log.info(
            "leak (BLEU %.1f): eval %s %s <-> train %s",
            leak.bleu,
            leak.eval_file,
            leak.eval_id,
            leak.train_id,
        )
    leaked_eval = {(leak.eval_file, leak.eval_id) for leak in leaks}
    leaked_train = {leak.train_id for leak in leaks}
    report.count("leakage_pairs", len(leaks))
    if direction == "drop_eval":
        kept_eval = [p for p in eval_prompts if (p.file, p.id) not in leaked_eval]
        report.drop("leaked_eval_prompts", len(eval_prompts) - len(kept_eval))
        return LeakageResult(train, kept_eval, leaks)
    kept_train = [c for c in train if c["id"] not in leaked_train]
    report.drop("leaked_train_conversations", len(train) - len(kept_train))
    return LeakageResult(kept_train, eval_prompts, leaks)


def apply_leakage_config(
    train: list[dict], cfg: Mapping | LeakageConfig, report: DataReport
) -> LeakageResult:
    """``filter_leakage`` as ``data.leakage`` asks; with no eval prompt files it changes nothing."""
    cfg = LeakageConfig.from_mapping(cfg)
    prompts = load_eval_prompts(list(cfg.eval_prompt_files))
    return filter_leakage(train, prompts, report, cfg.direction, cfg.bleu_threshold)
