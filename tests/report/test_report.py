"""`python -m imitate.report` on the 2 x 2 grid: files exist and every plotted point is an MLflow metric."""

from __future__ import annotations

import json

import pytest

from imitate import metrics
from imitate.report.collect import TRAIN_TOKENS
from imitate.tracking import cells
from tests.report.conftest import BENCHMARKS

pytestmark = pytest.mark.slow
FIGURES = ("fig4_top", "fig4_bottom", "fig1_3_data", "fig1_3_size", "fig5", "heldout_loss")


def _mlflow_rows(client, parent: str, role: str):
    runs = client.search_runs(
        [client.get_run(parent).info.experiment_id],
        f"tags.{cells.TAG_ROLE} = '{role}' and attributes.status = 'FINISHED'",
    )
    return [run for run in runs if run.data.tags[cells.TAG_PARENT] == parent]


def _panel(out, figure: str, metric: str) -> dict:
    data = json.loads((out / f"{figure}.json").read_text())
    return next(p for p in data["panels"] if p["metric"] == metric)


def test_every_figure_and_table_is_written_and_logged(report) -> None:
    client, parent, out, page = report
    for name in (*FIGURES, "style_vs_capability"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
    for name in ("table1_nq", "table2_style", "gap_closure"):
        assert (out / f"{name}.json").is_file()
    logged = {a.path for a in client.list_artifacts(parent, "report")}
    assert "report/report.html" in logged and "report/fig4_top.png" in logged


@pytest.mark.parametrize(
    "metric,figure",
    [(metrics.HELDOUT_LOSS, "heldout_loss"), (metrics.RTP_NONTOXICITY, "fig5")]
    + [(metric, "fig4_top") for metric in BENCHMARKS if metric != metrics.RTP_NONTOXICITY],
)
def test_series_vs_tokens_equal_the_mlflow_metrics(report, metric, figure) -> None:
    """Every capability panel of the miniature is drawn, each point an MLflow metric."""
    client, parent, out, _ = report
    expected: dict[str, list] = {}
    for run in _mlflow_rows(client, parent, cells.ROLE_IMITATION):
        point = [run.data.metrics[TRAIN_TOKENS], run.data.metrics[metric]]
        expected.setdefault(run.data.tags["group.model"], []).append(point)
    panel = _panel(out, figure, metric)
    assert len(expected) == 2  # both tiny models have the metric: the panel is not a gap
    assert panel["series"] == {model: sorted(points) for model, points in sorted(expected.items())}
    references = {
        f"base {r.data.tags['group.model']}": r.data.metrics[metric]
        for r in _mlflow_rows(client, parent, cells.ROLE_BASE)
    }
    references |= {  # the teacher's line where the reference has a score (Table 1's NQ)
        f"{r.data.tags['teacher']} (reference)": r.data.metrics[metric]
        for r in _mlflow_rows(client, parent, cells.ROLE_TEACHER)
        if metric in r.data.metrics
    }
    assert panel["references"] == references


def test_series_vs_size_use_the_largest_budget_per_model(report) -> None:
    client, parent, out, _ = report
    largest: dict[str, object] = {}
    for run in _mlflow_rows(client, parent, cells.ROLE_IMITATION):
        model = run.data.tags["group.model"]
        if (
            model not in largest
            or run.data.metrics[TRAIN_TOKENS] > largest[model].data.metrics[TRAIN_TOKENS]
        ):
            largest[model] = run
    expected = sorted(
        [int(r.data.tags[cells.TAG_PARAMETERS]), r.data.metrics[metrics.MMLU_ACC]]
        for r in largest.values()
    )
    assert (
        _panel(out, "fig4_bottom", metrics.MMLU_ACC)["series"]["imitation (most data)"] == expected
    )


def test_metrics_not_run_are_marked_gaps(report) -> None:
    _, _, out, page = report
    for figure, metric in (
        ("fig1_3_data", metrics.JUDGE_PREFERENCE),
        ("fig1_3_size", metrics.HUMAN_AT_LEAST_EQUAL),
    ):
        panel = _panel(out, figure, metric)
        assert panel["series"] == {} and panel["references"] == {}
    table2 = json.loads((out / "table2_style.json").read_text())
    papers_only = [
        i for i, c in enumerate(table2["columns"]) if c.endswith("(paper; not run here)")
    ]
    assert papers_only and all(row[i] is None for row in table2["rows"] for i in papers_only)
    judged = [row for row in table2["rows"] if row[0].startswith(metrics.STYLE_AUTHORITATIVE_JUDGE)]
    assert all(value is None for value in judged[0][1:-1])  # no judge ran: only the reference's
    html = page.read_text()
    message = f"Not run (a marked gap in the figure): {metrics.JUDGE_PREFERENCE}"
    assert "not run" in html and message in html


def test_tables_print_the_paper_beside_ours(report) -> None:
    client, parent, out, page = report
    table1 = json.loads((out / "table1_nq.json").read_text())
    assert table1["columns"] == ["", "llama_13b", "llama_7b", "tiny_gpt2_bytes", "tiny_llama"]
    base = table1["rows"][0]
    assert base[1] is None and table1["paper"][0][1] == [0.2, "Table 1, LLaMA-13B: 20"]
    tiny = {r.data.tags["group.model"]: r for r in _mlflow_rows(client, parent, cells.ROLE_BASE)}
    assert base[4] == tiny["tiny_llama"].data.metrics[metrics.NQ_EM]  # ours, no paper number
    assert table1["paper"][0][4] is None
    assert table1["rows"][3][1:] == [0.31] * 4  # the teacher row entered from the reference
    html = page.read_text()
    assert "paper 0.17" in html and "paper 83" in html  # Table 1 LLaMA-7B, Table 2 ChatGPT #2
    gaps = json.loads((out / "gap_closure.json").read_text())
    nq = gaps["columns"].index(metrics.NQ_EM)
    mmlu = gaps["columns"].index(metrics.MMLU_ACC)
    assert all(row[nq] is not None for row in gaps["rows"])  # the teacher's NQ is entered
    assert all(row[mmlu] is None for row in gaps["rows"])  # its MMLU is not published
