"""The paper's numbers beside ours in Tables 1 and 2, as data and as rendered HTML (fast: no runs)."""

from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.report import html
from imitate.report.collect import Row
from imitate.report.tables import STYLE, table1_nq, table2_style
from imitate.tracking import cells
from imitate.tracking.reference import load_reference, published_values, reference_scores
from tests.conftest import compose_config

PUBLISHED = published_values(load_reference())
# The paper's numbers as the issue quotes them (Table 1 in %, converted to nq/em's fraction).
TABLE1 = {
    "LLaMA-7B": 17, "LLaMA-7B + ShareGPT-Mix": 10, "LLaMA-7B + NQ-synthetic": 22,
    "LLaMA-13B": 20, "LLaMA-13B + ShareGPT-Mix": 15, "LLaMA-13B + NQ-synthetic": 27, "ChatGPT": 31,
}  # fmt: skip
TABLE2 = {  # list %, summary %, unigram overlap, length r, authoritative %
    "LLaMA": (13, 2, 19.5, -0.11, 57),
    "LLaMA + 20M tokens": (50, 40, 40.4, 0.51, 99),
    "LLaMA + 80M tokens": (67, 42, 41.9, 0.62, 98),
    "LLaMA + 150M tokens": (81, 48, 42.5, 0.62, 98),
    "ChatGPT #2": (83, 55, 49.2, 0.67, 98),
}


def _row(role, model, values=None, data="", tokens=None, budget=None) -> Row:
    return Row(f"{role}-{model}-{budget}", role, model, data, tokens, None, values or {}, budget)


def _cells(table) -> list[list[str]]:
    """The rendered table as text per cell ("0.18 paper 0.17", "not run paper 0.2", ...)."""
    page = html._table(table)
    rows = re.findall(r"<tr>(.*?)</tr>", page)[1:]
    text = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in row] for row in text]


def test_shipped_paper_numbers_are_the_published_ones() -> None:
    table1 = {p.label: p.metrics[metrics.NQ_EM] for p in PUBLISHED if p.table == "table1_nq"}
    assert table1 == {label: pytest.approx(value / 100) for label, value in TABLE1.items()}
    table2 = {
        p.label: tuple(p.metrics[m] for m in STYLE) for p in PUBLISHED if p.table == "table2_style"
    }
    assert table2 == TABLE2
    assert all(p.source.startswith(("Table 1", "Table 2")) for p in PUBLISHED)
    # the teacher row of every sweep carries the same Table 1 number and Table 2's ChatGPT #2
    chatgpt2 = dict(zip(STYLE, TABLE2["ChatGPT #2"], strict=True))
    assert reference_scores(load_reference()) == {metrics.NQ_EM: pytest.approx(0.31)} | chatgpt2


def test_composed_reference_holds_the_same_numbers() -> None:
    assert published_values(compose_config(["+reference=chatgpt"]).reference) == PUBLISHED


def test_table1_shows_ours_beside_the_paper_and_marks_what_did_not_run() -> None:
    rows = [
        _row(cells.ROLE_BASE, "llama_7b", {metrics.NQ_EM: 0.18}),
        _row(cells.ROLE_IMITATION, "llama_7b", {metrics.NQ_EM: 0.11}, "sharegpt_mix", 1e6),
        _row(cells.ROLE_BASE, "tiny_llama", {metrics.NQ_EM: 0.0}),
        _row(cells.ROLE_TEACHER, "ChatGPT", {metrics.NQ_EM: 0.31}),
    ]
    table = table1_nq(rows, PUBLISHED)
    assert table.columns == ["", "llama_13b", "llama_7b", "tiny_llama"]
    assert table.paper[0][2] == (0.17, "Table 1, LLaMA-7B: 17")
    base, broad, local, teacher = _cells(table)
    assert base == ["base model", "not run paper 0.2", "0.18 paper 0.17", "0"]
    assert broad == ["ShareGPT-Mix imitation", "not run paper 0.15", "0.11 paper 0.1", "not run"]
    assert local == [
        "NQ-synthetic imitation",
        "not run paper 0.27",
        "not run paper 0.22",
        "not run",
    ]
    assert teacher[0] == "ChatGPT (teacher row, entered)"
    assert teacher[1:] == ["0.31 paper 0.31"] * 3


def test_table1_nq_synthetic_cell_takes_the_local_imitation_run() -> None:
    rows = [
        _row(cells.ROLE_IMITATION, "llama_13b", {metrics.NQ_EM: 0.12}, "sharegpt_mix", 2e6),
        _row(cells.ROLE_IMITATION, "llama_13b", {metrics.NQ_EM: 0.26}, "nq_synthetic", 1e6),
    ]
    _, broad, local, _ = _cells(table1_nq(rows, PUBLISHED))
    assert broad[1] == "0.12 paper 0.15" and local[1] == "0.26 paper 0.27"


def _by_column(table) -> dict[str, list[str]]:
    """Table 2 as the paper lays it out: each column's rendered cells, top to bottom."""
    rendered = _cells(table)
    return {label: [row[i] for row in rendered] for i, label in enumerate(table.columns) if i}


def test_table2_has_a_column_per_data_amount_matched_to_the_papers() -> None:
    style = dict(zip(STYLE, (60.0, 30.0, 38.5, 0.4, 97.0), strict=True))
    rows = [
        _row(cells.ROLE_IMITATION, "llama_13b", style, "sharegpt_mix", 19.8e6, budget=20_000_000),
        _row(cells.ROLE_IMITATION, "llama_13b", {}, "sharegpt_mix", 3e6, budget=3_000_000),
        _row(cells.ROLE_BASE, "tiny_llama"),
    ]
    table = table2_style(rows, PUBLISHED)
    assert [row[0] for row in table.rows] == [f"{m} ({metrics.UNITS[m]})" for m in STYLE] + [
        metrics.STYLE_EMPTY_REPLY_RATE,
        metrics.STYLE_TRUNCATION_RATE,
    ]
    assert table.columns == [
        "",
        "base tiny_llama",
        "LLaMA (paper; not run here)",
        "llama_13b + 3M tokens",  # by data amount: the 3M cell before the 20M one
        "llama_13b + 20M tokens",
        "LLaMA + 80M tokens (paper; not run here)",
        "LLaMA + 150M tokens (paper; not run here)",
        "ChatGPT #2",
    ]
    columns = _by_column(table)
    assert columns["llama_13b + 20M tokens"] == [
        "60 paper 50", "30 paper 40", "38.5 paper 40.4", "0.4 paper 0.51", "97 paper 99",
        "not run", "not run",  # empty and truncated replies: not in this row, not in the paper
    ]  # fmt: skip
    assert columns["llama_13b + 3M tokens"] == ["not run"] * 7  # the paper has no 3M column
    assert columns["base tiny_llama"] == ["not run"] * 7
    # the paper's columns that no run of ours matches are still shown, ours marked not run
    assert columns["LLaMA (paper; not run here)"][0] == "not run paper 13"
    assert columns["LLaMA + 80M tokens (paper; not run here)"][2] == "not run paper 41.9"
    assert columns["ChatGPT #2"][:5] == [f"not run paper {v:g}" for v in TABLE2["ChatGPT #2"]]


def test_table2_chatgpt2_column_is_measured_else_the_reference_marked_so() -> None:
    reference = _row(cells.ROLE_TEACHER, "ChatGPT", reference_scores(load_reference()))
    reference.source = "reference"
    measured = _row(cells.ROLE_TEACHER, "ChatGPT #2", {metrics.STYLE_UNIGRAM_F1: 47.5})
    measured.source = "measured"
    entered = _by_column(table2_style([reference], PUBLISHED))["ChatGPT #2"]
    assert entered[2] == "49.2 reference paper 49.2"
    both = _by_column(table2_style([reference, measured], PUBLISHED))["ChatGPT #2"]
    assert both[2] == "47.5 measured paper 49.2"  # measured where it has the metric
    assert both[0] == "83 reference paper 83"  # the reference for the rest


def test_paper_cells_cite_their_source_in_the_page() -> None:
    page = html._table(table2_style([], PUBLISHED))
    why = (
        "metric not logged: the cell ran no style task (eval=quick or eval=paper has it); "
        "ChatGPT #2: python -m imitate.judge chatgpt2 log.parent_run_id=&lt;sweep&gt;"
    )
    assert f"title='{why}; paper: Table 2, column ChatGPT #2'" in page


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"table": "table3"}, "paper\\[0\\].table='table3' is not valid"),
        ({"row": "student"}, "paper\\[0\\].row='student' is not valid"),
        ({"data": "sharegpt"}, "paper\\[0\\].data='sharegpt' is not valid"),
        ({"metrics": {"nq/exact_match": 0.2}}, "paper\\[0\\].metrics='nq/exact_match' is not"),
        ({"source": ""}, "paper\\[0\\] needs a label, metrics and a source"),
        ({"colour": "red"}, "paper\\[0\\] has unknown keys \\['colour'\\]"),
        ({"tokens": "lots"}, "paper\\[0\\].tokens='lots' cannot be read as a token count"),
    ],
)
def test_a_bad_paper_entry_is_refused_naming_the_entry(change, problem) -> None:
    entry = {"table": "table1_nq", "label": "x", "row": "base", "metrics": {"nq/em": 0.2}}
    reference = OmegaConf.create({"name": "t", "paper": [entry | {"source": "s"} | change]})
    with pytest.raises(ValueError, match=problem):
        published_values(reference)


def test_token_budget_is_read_from_the_grid_tag_or_the_param(tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    from imitate.redact import REDACTED
    from imitate.report.collect import collect_rows

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("budget", (tmp_path / "artifacts").as_uri())
    for tags, param in (
        ({cells.TAG_GRID + "data.max_tokens": "20M"}, REDACTED),  # a sweep cell
        ({}, "80M"),  # a single run
        ({}, REDACTED),  # unknown: matches no paper column by tokens
    ):
        run = client.create_run(experiment, tags={cells.TAG_ROLE: cells.ROLE_IMITATION} | tags)
        client.log_param(run.info.run_id, "data.max_tokens", param)
        client.set_terminated(run.info.run_id, "FINISHED")
    budgets = sorted(row.budget or 0 for row in collect_rows(client, experiment, None))
    assert budgets == [0, 20_000_000, 80_000_000]


def test_gap_closure_says_why_a_cell_is_empty() -> None:
    from imitate.report.tables import gap_closure

    rows = [_row(cells.ROLE_IMITATION, "tiny_llama", {metrics.NQ_EM: 0.1}, "sharegpt", 512)]
    [row] = _cells(gap_closure(rows))
    assert row[1:] == ["n/a"] * 6  # no base or teacher value: nothing to divide by
