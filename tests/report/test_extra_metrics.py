"""`--extra-metric`: any logged metric (an lm-eval one here) drawn against imitation tokens and base size."""

from __future__ import annotations

import json

import pytest

from imitate import metrics
from imitate.report.__main__ import main
from imitate.report.collect import TRAIN_TOKENS
from imitate.tracking import cells
from imitate.tracking.teacher_run import KIND_EVALUATE, TAG_KIND, TAG_LLM
from tests.report.store import cell_tags, log_run, store

GSM8K = metrics.lm_eval_metric("gsm8k", "exact_match", "strict-match")
ARC = metrics.lm_eval_metric("arc_easy", "acc")
SIZES = {"tiny_a": 1_000, "tiny_b": 4_000}
# (model, imitation tokens) -> GSM8K exact match; tokens None: the base model's row
SCORES = {
    ("tiny_a", None): 0.01, ("tiny_a", 512): 0.02, ("tiny_a", 1024): 0.03,
    ("tiny_b", None): 0.05, ("tiny_b", 512): 0.04, ("tiny_b", 1024): 0.06,
}  # fmt: skip


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """An experiment of base and imitation runs and a measured teacher, all with GSM8K."""
    tmp_path = tmp_path_factory.mktemp("extra")
    client, experiment_id, uri = store(tmp_path, "lm_eval_study")
    for (model, tokens), score in SCORES.items():
        role = cells.ROLE_BASE if tokens is None else cells.ROLE_IMITATION
        values = {GSM8K: score} | ({} if tokens is None else {TRAIN_TOKENS: float(tokens)})
        log_run(client, experiment_id, cell_tags(None, role, model, SIZES[model]), values)
    teacher = {cells.TAG_ROLE: cells.ROLE_TEACHER, TAG_KIND: KIND_EVALUATE, TAG_LLM: "openai:t"}
    log_run(client, experiment_id, teacher, {GSM8K: 0.57, ARC: 0.9})
    return tmp_path, uri


def _report(experiment, *extra: str):
    tmp_path, uri = experiment
    out = tmp_path / f"report_{len(list(tmp_path.glob('report_*')))}"  # a fresh folder each
    args = ["lm_eval_study", "--tracking-uri", uri, "--out", str(out), "--no-log"]
    return out, main(args + [a for name in extra for a in ("--extra-metric", name)])


def test_extra_metric_is_drawn_against_tokens_and_base_size(experiment) -> None:
    out, page = _report(experiment, GSM8K)
    [data] = json.loads((out / "extra_data.json").read_text())["panels"]
    assert data["metric"] == GSM8K
    assert data["series"] == {
        model: [[tokens, SCORES[model, tokens]] for tokens in (512, 1024)] for model in SIZES
    }
    assert data["references"] == {
        "base tiny_a": 0.01,
        "base tiny_b": 0.05,
        "openai:t (measured)": 0.57,
    }
    [size] = json.loads((out / "extra_size.json").read_text())["panels"]
    assert size["series"] == {
        "imitation (most data)": [[SIZES[m], SCORES[m, 1024]] for m in SIZES],
        "base models": [[SIZES[m], SCORES[m, None]] for m in SIZES],
    }
    assert size["references"] == {"openai:t (measured)": 0.57}
    assert (out / "extra_data.png").stat().st_size > 1000
    text = page.read_text()
    for name in ("extra_data", "extra_size"):
        section = text.split(f"<section id='{name}'>")[1].split("</section>")[0]
        assert "<img alt=" in section and "base64," in section
    assert "Not run" not in text.split("<section id='extra_data'>")[1].split("</section>")[0]


def test_several_extra_metrics_are_panels_of_the_same_figures(experiment) -> None:
    out, _ = _report(experiment, GSM8K, ARC, GSM8K)  # a repeated name is drawn once
    panels = json.loads((out / "extra_data.json").read_text())["panels"]
    assert [p["metric"] for p in panels] == [GSM8K, ARC]
    assert panels[1]["series"] == {} and panels[1]["references"] == {"openai:t (measured)": 0.9}


def test_without_extra_metrics_no_extra_figure_is_written(experiment) -> None:
    out, page = _report(experiment)
    assert not (out / "extra_data.json").exists() and "extra_data" not in page.read_text()


def test_an_unknown_extra_metric_lists_the_lm_eval_metrics_of_the_runs(experiment) -> None:
    tmp_path, _ = experiment
    before = sorted(tmp_path.glob("report_*"))
    wrong = "lm_eval/gsm8k/exact_match"  # the filter left out
    with pytest.raises(SystemExit, match="exact_match'") as error:
        _report(experiment, GSM8K, wrong)
    message = str(error.value)
    assert f"--extra-metric {wrong!r}: in none of these 7 runs" in message
    assert f"lm_eval/* metrics they have: {ARC}, {GSM8K}" in message
    assert sorted(tmp_path.glob("report_*")) == before  # refused before anything was written
