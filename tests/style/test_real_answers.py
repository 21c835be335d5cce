"""Table 2's rows on real answers (issue 16, point 7): base LLaMA-13B vs its ShareGPT imitation Vicuna-13B.

FastChat's Vicuna-80 answers (../shared/data/fastchat, March 2023) scored against ChatGPT's. The
paper's Table 2 puts the imitation above the base model on every row, authoritative tone (judged
by GPT-4) included: 57% -> 98%. The list, summary, unigram and length rows order these two real
models the same way; the hedge/booster lexicon orders them backwards, which is why it is not a
default row (only with ``lexicon_tone=True`` / ``style=lexicon``).
"""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.data.jsonl import read_jsonl
from imitate.reply_pair import ReplyPair
from imitate.style.similarity import style_metrics, style_rows

pytestmark = pytest.mark.shared_data

TABLE = "fastchat/vicuna_eval_2023-06/table"
BASE, IMITATION, TEACHER = "llama-13b", "vicuna-13b-20230322-new-hp-fp16", "gpt35"
PAPER_ROWS = (
    metrics.STYLE_LIST,
    metrics.STYLE_SUMMARY,
    metrics.STYLE_UNIGRAM_F1,
    metrics.STYLE_LENGTH_PEARSON,
)


def answers(shared_data, model: str) -> dict[int, str]:
    path = shared_data / TABLE / "answer" / f"answer_{model}.jsonl"
    return {row["question_id"]: row["text"] for _, row in read_jsonl(path)}


def scored(shared_data, model: str, lexicon_tone: bool = False) -> dict[str, float]:
    questions = {r["question_id"]: r["text"] for _, r in read_jsonl(shared_data / TABLE / "question.jsonl")}  # fmt: skip
    output, reference = answers(shared_data, model), answers(shared_data, TEACHER)
    pairs = [ReplyPair(str(q), text, output[q], reference[q]) for q, text in questions.items()]
    assert len(pairs) == 80
    return style_metrics(style_rows(pairs, lexicon_tone=lexicon_tone))


def test_the_paper_rows_order_base_below_imitation(shared_data) -> None:
    base, imitation = scored(shared_data, BASE), scored(shared_data, IMITATION)
    measured = {name: (round(base[name], 1), round(imitation[name], 1)) for name in PAPER_ROWS}
    assert measured == {
        metrics.STYLE_LIST: (52.2, 91.3),  # paper (LLaMA -> 150M tokens): 13 -> 81
        metrics.STYLE_SUMMARY: (0.0, 42.1),  # 2 -> 48
        metrics.STYLE_UNIGRAM_F1: (28.4, 47.4),  # 19.5 -> 42.5
        metrics.STYLE_LENGTH_PEARSON: (0.2, 0.5),  # -0.11 -> 0.62
    }
    assert all(base[name] < imitation[name] for name in PAPER_ROWS)


def test_the_lexicon_proxy_ranks_them_backwards_so_it_is_opt_in(shared_data) -> None:
    assert metrics.STYLE_AUTHORITATIVE_LEXICON not in scored(shared_data, BASE)  # not by default
    tone = {
        model: scored(shared_data, model, lexicon_tone=True)[metrics.STYLE_AUTHORITATIVE_LEXICON]
        for model in (BASE, IMITATION, TEACHER)
    }
    # paper (GPT-4 judge): LLaMA 57% -> imitation 98%, ChatGPT #2 98%; the lexicon: down, not up,
    # and ChatGPT itself below the base model (it hedges: "may", "generally", "typically")
    assert tone == {BASE: 61.25, IMITATION: 41.25, TEACHER: 46.25}
