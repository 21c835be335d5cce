"""The miniature of the paper's contrast end to end: sweep -> report -> Table 2 and the chart filled."""

from __future__ import annotations

import json

import pytest

from imitate import metrics
from imitate.data.budget import format_token_count
from imitate.report.tables import TABLE2_ROWS
from imitate.tracking import cells
from tests.report.contrast import BUDGETS

pytestmark = pytest.mark.slow
MODEL = "tiny_llama"


def _runs(contrast_report, role: str) -> list:
    client = contrast_report.client
    experiment = client.get_run(contrast_report.parent).info.experiment_id
    query = f"tags.{cells.TAG_ROLE} = '{role}' and attributes.status = 'FINISHED'"
    return client.search_runs([experiment], query)


def test_sweep_runs_the_base_row_and_every_budget(contrast_report) -> None:
    [base] = _runs(contrast_report, cells.ROLE_BASE)
    imitation = _runs(contrast_report, cells.ROLE_IMITATION)
    budgets = sorted(int(r.data.tags[cells.TAG_GRID + "data.max_tokens"]) for r in imitation)
    assert budgets == list(BUDGETS)
    for run in [base, *imitation]:  # style and the quick benchmarks in every cell
        assert metrics.STYLE_UNIGRAM_F1 in run.data.metrics, run.data.tags["mlflow.runName"]
        assert metrics.MMLU_ACC in run.data.metrics and metrics.NQ_EM in run.data.metrics


def test_table2_has_our_values_for_the_base_row_and_each_budget(contrast_report) -> None:
    table = json.loads((contrast_report.out / "table2_style.json").read_text())
    base = f"base {MODEL}"
    cells_by_amount = [f"{MODEL} + {format_token_count(b)} tokens" for b in BUDGETS]  # 1.024k
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
    assert len(style["series"][MODEL]) == len(BUDGETS)
    assert style["point_labels"][MODEL] and style["series"][f"base {MODEL}"][0][0] == 0.0
    assert (contrast_report.out / "style_vs_capability.png").stat().st_size > 1000
