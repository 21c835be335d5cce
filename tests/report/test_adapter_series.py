"""A sweep over adapter=none,lora: one report, a series per adapter in Fig. 4 and rows in Table 2
(fast: runs written to a fresh MLflow store as the training runs tag them)."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.report.collect import TRAIN_TOKENS, collect_rows
from imitate.report.figures import paper_figures
from imitate.report.tables import table2_style
from imitate.tracking import cells
from tests.report.store import cell_tags, log_run, store

PARENT = "a" * 32
MMLU = {  # (adapter, tokens): mmlu/acc
    ("none", 512): 0.30,
    ("none", 1024): 0.32,
    ("lora", 512): 0.26,
    ("lora", 1024): 0.27,
}


@pytest.fixture
def rows(tmp_path):
    client, experiment_id, _ = store(tmp_path)
    for (adapter, tokens), accuracy in MMLU.items():
        tags = cell_tags(PARENT, cells.ROLE_IMITATION, "tiny_llama", 1000)
        values = {TRAIN_TOKENS: tokens, metrics.MMLU_ACC: accuracy, metrics.STYLE_LIST: tokens / 64}
        log_run(client, experiment_id, tags | {cells.TAG_ADAPTER: adapter}, values)
    base = cell_tags(PARENT, cells.ROLE_BASE, "tiny_llama", 1000)
    log_run(client, experiment_id, base, {metrics.MMLU_ACC: 0.25})
    return collect_rows(client, experiment_id, PARENT, teacher_run="reference")


def test_fig4_draws_a_line_per_adapter_against_tokens_and_size(rows) -> None:
    top, bottom = paper_figures(rows)[:2]
    [mmlu_top] = [p for p in top.panels if p.metric == metrics.MMLU_ACC]
    assert mmlu_top.series == {
        "tiny_llama": [(512, 0.30), (1024, 0.32)],
        "tiny_llama + lora": [(512, 0.26), (1024, 0.27)],
    }
    assert mmlu_top.references == {"base tiny_llama": 0.25}
    [mmlu_bottom] = [p for p in bottom.panels if p.metric == metrics.MMLU_ACC]
    assert mmlu_bottom.series == {
        "imitation (most data)": [(1000, 0.32)],
        "imitation + lora (most data)": [(1000, 0.27)],
        "base models": [(1000, 0.25)],
    }


def test_table2_has_a_column_per_adapter_and_budget(rows) -> None:
    table = table2_style(rows)
    [listed] = [row[1:] for row in table.rows if "list" in str(row[0]).lower()]
    by_column = dict(zip(table.columns[-len(listed) :], listed, strict=True))
    assert by_column["tiny_llama + 1.024k tokens"] == 16.0
    assert by_column["tiny_llama + lora + 1.024k tokens"] == 16.0
    assert by_column["tiny_llama + lora + 512 tokens"] == 8.0
    ours = [label for label in table.columns if label.startswith("tiny_llama +")]
    assert ours == [  # full fine-tunes (the paper's method) first, then LoRA, by budget
        "tiny_llama + 512 tokens",
        "tiny_llama + 1.024k tokens",
        "tiny_llama + lora + 512 tokens",
        "tiny_llama + lora + 1.024k tokens",
    ]


def test_runs_from_before_adapters_count_as_full_fine_tunes(tmp_path) -> None:
    client, experiment_id, _ = store(tmp_path)
    tags = cell_tags(PARENT, cells.ROLE_IMITATION, "tiny_llama", 1000)  # no adapter tag
    log_run(client, experiment_id, tags, {TRAIN_TOKENS: 512, metrics.MMLU_ACC: 0.3})
    [row] = collect_rows(client, experiment_id, PARENT, teacher_run="reference")
    assert row.adapter == "none" and row.series == "tiny_llama"
