"""`python -m imitate.report` on the 2 x 2 grid: files exist and every plotted point is an MLflow metric."""

from __future__ import annotations

import json

import pytest

from imitate import metrics
from imitate.report.collect import TRAIN_TOKENS
from imitate.tracking import cells

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
    "metric,figure", [(metrics.HELDOUT_LOSS, "heldout_loss"), (metrics.MMLU_ACC, "fig4_top")]
)
def test_series_vs_tokens_equal_the_mlflow_metrics(report, metric, figure) -> None:
    client, parent, out, _ = report
    expected: dict[str, list] = {}
    for run in _mlflow_rows(client, parent, cells.ROLE_IMITATION):
        point = [run.data.metrics[TRAIN_TOKENS], run.data.metrics[metric]]
        expected.setdefault(run.data.tags["group.model"], []).append(point)
    panel = _panel(out, figure, metric)
    assert panel["series"] == {model: sorted(points) for model, points in sorted(expected.items())}
    base = {
        f"base {r.data.tags['group.model']}": r.data.metrics[metric]
        for r in _mlflow_rows(client, parent, cells.ROLE_BASE)
    }
    assert panel["references"] == base  # the teacher has no score here: no teacher line


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
        ("fig4_top", metrics.NQ_EM),
        ("fig1_3_data", metrics.JUDGE_PREFERENCE),
        ("fig5", metrics.RTP_NONTOXICITY),
    ):
        panel = _panel(out, figure, metric)
        assert panel["series"] == {} and panel["references"] == {}
    table1 = json.loads((out / "table1_nq.json").read_text())
    assert all(value is None for row in table1["rows"] for value in row[1:])
    gaps = json.loads((out / "gap_closure.json").read_text())
    assert all(
        value is None for row in gaps["rows"] for value in row[1:]
    )  # no teacher scores entered
    html = page.read_text()
    assert "not run" in html and f"Not run (a marked gap in the figure): {metrics.NQ_EM}" in html
