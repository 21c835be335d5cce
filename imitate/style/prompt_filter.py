"""The paper's held-out prompt filters: BLEU > 20 to any training example, non-English, coding.

Every drop is counted in the DataReport (``dropped_leaked_eval_prompts``,
``dropped_language_not_en``, ``dropped_coding``), never silent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from imitate.data.clean import filter_language
from imitate.data.conversations import ASSISTANT, USER, normalise_all
from imitate.data.leakage import EvalPrompt, filter_leakage
from imitate.data.paths import resolve_data_path
from imitate.data.report import DataReport
from imitate.data.sources import PACKAGED, read_records
from imitate.style.prompt_sets import PromptItem

# A prompt counts as a coding prompt when any of these holds (checked in this order):
#   its category (FastChat's Vicuna-80 labels) is "coding" or "code";
#   it has a markdown code fence;
#   a line looks like code: opens with def/class/import/from x import/#include/function/SELECT, or
#     ends with one of ; { }
#   it names programming: code, coding, program(ming), function, script, compile, debug, regex,
#     SQL, or a language name (Python, JavaScript, Java, C++, C#, TypeScript, Rust, Go(lang), HTML,
#     CSS, Bash, shell script).
CODING_CATEGORIES = frozenset({"coding", "code"})
_CODE_FENCE = re.compile(r"```")
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |#include|function |SELECT )|[;{}]\s*$",
    re.MULTILINE,
)
_CODING_WORDS = re.compile(
    r"\b(?:code|coding|program|programming|function|script|compile|debug|regex|sql|python|"
    r"javascript|typescript|java|rust|golang|html|css|bash|shell script)\b|c\+\+|c#",
    re.IGNORECASE,
)


def is_coding_prompt(prompt: str, category: str = "") -> bool:
    """The documented coding heuristic above (category, code fence, code-like line, coding words)."""
    return (
        category.lower() in CODING_CATEGORIES
        or bool(_CODE_FENCE.search(prompt))
        or bool(_CODE_LINE.search(prompt))
        or bool(_CODING_WORDS.search(prompt))
    )


def filter_prompts(items: list[PromptItem], cfg: Mapping, report: DataReport) -> list[PromptItem]:
    """Apply ``cfg`` = ``{leakage_train, bleu_threshold, english_only, drop_coding}`` in that order."""
    if cfg.get("leakage_train"):
        items = drop_leaked(
            items, str(cfg["leakage_train"]), float(cfg.get("bleu_threshold", 20)), report
        )
    if cfg.get("english_only"):
        kept = filter_language([_as_conversation(item) for item in items], report, "en")
        kept_ids = {c["id"] for c in kept}
        items = [item for item in items if item.id in kept_ids]
    if cfg.get("drop_coding"):
        kept_items = [item for item in items if not is_coding_prompt(item.prompt, item.category)]
        report.drop("coding", len(items) - len(kept_items))
        items = kept_items
    return items


def drop_leaked(
    items: list[PromptItem], train_path: str, threshold: float, report: DataReport
) -> list[PromptItem]:
    """Drop prompts with sacrebleu BLEU > threshold to any user turn of the training conversations."""
    if train_path != PACKAGED:  # "package": the ShareGPT copy the default training data uses
        train_path = str(resolve_data_path(train_path, what="filters.leakage_train"))
    train = list(normalise_all(read_records(train_path, report), "train", report))
    prompts = [EvalPrompt("heldout", item.id, item.prompt) for item in items]
    result = filter_leakage(train, prompts, report, "drop_eval", threshold)
    kept = {p.id for p in result.eval_prompts}
    return [item for item in items if item.id in kept]


def _as_conversation(item: PromptItem) -> dict:
    # Prompt and reply together: a short prompt alone is often too little for langdetect.
    turns = [{"role": USER, "content": item.prompt}, {"role": ASSISTANT, "content": item.reference}]
    return {"id": item.id, "turns": turns}
