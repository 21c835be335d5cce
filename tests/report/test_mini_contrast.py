"""The miniature of the paper's contrast end to end: sweep -> report -> Table 2 and the chart filled."""

from __future__ import annotations

import json

import pytest

from imitate import metrics
from imitate.data.budget import format_token_count
from imitate.report.collect import TRAIN_TOKENS
from imitate.report.tables import TABLE2_ROWS
from imitate.tracking import cells
from tests.report.contrast import ADAPTERS, BUDGETS

pytestmark = pytest.mark.slow
MODEL = "tiny_llama"
SERIES = {"none": MODEL, "lora": f"{MODEL} + lora"}  # a line per adapter in the figures


def _runs(contrast_report, role: str) -> list:
    client = contrast_report.client
    experiment = client.get_run(contrast_report.parent).info.experiment_id
    query = f"tags.{cells.TAG_ROLE} = '{role}' and attributes.status = 'FINISHED'"
    return client.search_runs([experiment], query)


def test_sweep_runs_one_base_row_and_every_budget_under_every_adapter(contrast_report) -> None:
    [base] = _runs(contrast_report, cells.ROLE_BASE)  # shared by both adapters
    imitation = _runs(contrast_report, cells.ROLE_IMITATION)
    cells_run = sorted(
        (r.data.tags[cells.TAG_ADAPTER], int(r.data.tags[cells.TAG_GRID + "data.max_tokens"]))
        for r in imitation
    )
    assert cells_run == sorted((adapter, budget) for adapter in ADAPTERS for budget in BUDGETS)
    for run in [base, *imitation]:  # style and the quick benchmarks in every cell
        assert metrics.STYLE_UNIGRAM_F1 in run.data.metrics, run.data.tags["mlflow.runName"]
        assert metrics.MMLU_ACC in run.data.metrics and metrics.NQ_EM in run.data.metrics


def test_table2_has_our_values_for_the_base_row_and_each_budget(contrast_report) -> None:
    table = json.loads((contrast_report.out / "table2_style.json").read_text())
    base = f"base {MODEL}"
    cells_by_amount = [  # "tiny_llama + 1.024k tokens", "tiny_llama + lora + 512 tokens"
        f"{SERIES[adapter]} + {format_token_count(b)} tokens"
        for adapter in ADAPTERS
        for b in BUDGETS
    ]
    ours = [base, *cells_by_amount]
    assert [c for c in table["columns"] if not c.endswith("(paper; not run here)")] == [
        "",
        *ours,
        "ChatGPT #2",
    ]
    by_metric = {row[0].split(" ")[0]: row for row in table["rows"]}
    assert list(by_metric) == list(TABLE2_ROWS)
    [base_run] = _runs(contrast_report, cells.ROLE_BASE)
    unigram = by_metric[metrics.STYLE_UNIGRAM_F1]
    column = table["columns"].index
    assert unigram[column(base)] == base_run.data.metrics[metrics.STYLE_UNIGRAM_F1]
    for label in cells_by_amount:  # every measure the style task computes, in every column
        for name in (metrics.STYLE_LIST, metrics.STYLE_SUMMARY, metrics.STYLE_UNIGRAM_F1):
            assert by_metric[name][column(label)] is not None, (label, name)
    assert unigram[column("ChatGPT #2")] == 49.2  # no chatgpt2 run: the reference's, marked so
    assert table["sources"][list(by_metric).index(metrics.STYLE_UNIGRAM_F1)][
        column("ChatGPT #2")
    ].startswith("reference")


def test_style_vs_capability_chart_has_a_point_per_cell(contrast_report) -> None:
    chart = json.loads((contrast_report.out / "style_vs_capability.json").read_text())
    style = next(p for p in chart["panels"] if p["metric"] == metrics.STYLE_UNIGRAM_F1)
    assert [len(style["series"][SERIES[adapter]]) for adapter in ADAPTERS] == [len(BUDGETS)] * 2
    assert style["point_labels"][MODEL] and style["series"][f"base {MODEL}"][0][0] == 0.0
    assert (contrast_report.out / "style_vs_capability.png").stat().st_size > 1000


def test_fig4_draws_each_adapters_own_runs_as_its_own_series(contrast_report) -> None:
    fig4 = json.loads((contrast_report.out / "fig4_top.json").read_text())
    [mmlu] = [p for p in fig4["panels"] if p["metric"] == metrics.MMLU_ACC]
    assert sorted(mmlu["series"]) == sorted(SERIES.values())
    imitation = _runs(contrast_report, cells.ROLE_IMITATION)
    for adapter, series in SERIES.items():
        measured = [
            (r.data.metrics[TRAIN_TOKENS], r.data.metrics[metrics.MMLU_ACC])
            for r in imitation
            if r.data.tags[cells.TAG_ADAPTER] == adapter
        ]
        assert [tuple(point) for point in mmlu["series"][series]] == sorted(measured), adapter
