"""The teacher row from a measured `imitate.evaluate ... role=teacher` run, else from conf/reference."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.evaluate import evaluate
from imitate.report.__main__ import main
from imitate.report.collect import TRAIN_TOKENS
from imitate.tracking import cells
from imitate.tracking.reference import record_teacher
from imitate.tracking.teacher_run import KIND_EVALUATE, TAG_KIND, TAG_LLM
from tests.conftest import compose_config
from tests.eval.conftest import FIXTURES
from tests.report.store import cell_tags, log_run, store

REFERENCE = OmegaConf.create(
    {
        "name": "ChatGPT",
        "scores": [
            {"metric": metrics.NQ_EM, "value": 0.31, "source": "paper Table 1"},
            {"metric": metrics.MMLU_ACC, "value": 0.70, "source": "a test's number"},
        ],
    }
)
BASE = {metrics.NQ_EM: 0.05, metrics.MMLU_ACC: 0.25}
IMITATION = {TRAIN_TOKENS: 512.0, metrics.NQ_EM: 0.10, metrics.MMLU_ACC: 0.30}
MEASURED_TAGS = {cells.TAG_ROLE: cells.ROLE_TEACHER, TAG_KIND: KIND_EVALUATE}


def _evaluate_nq(tmp_path, uri: str, role: str):
    """`python -m imitate.evaluate model=tiny_llama eval=quick role=...` with NQ only (seconds)."""
    nq = FIXTURES / "nq"
    cfg = compose_config(
        [
            "model=tiny_llama",
            "eval=quick",
            f"role={role}",
            "~eval.tasks.mmlu",
            "~eval.tasks.humaneval",
            "~eval.tasks.rtp",
            f"eval.tasks.nq.data={nq / 'test.jsonl'}",
            f"eval.tasks.nq.shots_data={nq / 'shots.jsonl'}",
            "eval.tasks.nq.max_new_tokens=4",
            f"output_dir={tmp_path / 'out'}",
            f"eval.results_cache={tmp_path / 'cache'}",
            f"tracking.uri={uri}",
            f"tracking.artifact_root={tmp_path / 'artifacts'}",
        ],
        config_name="evaluate",
    )
    return evaluate(cfg)


@pytest.fixture(scope="module")
def sweep_and_teachers(tmp_path_factory):
    """A sweep (base, imitation, reference teacher) and measured teachers around a real evaluate run."""
    tmp_path = tmp_path_factory.mktemp("measured_teacher")
    client, experiment, uri = store(tmp_path)
    parent = log_run(client, experiment, {cells.TAG_ROLE: cells.ROLE_SWEEP}, {})
    log_run(client, experiment, cell_tags(parent, cells.ROLE_BASE, "tiny_llama", 1000), BASE)
    log_run(
        client, experiment, cell_tags(parent, cells.ROLE_IMITATION, "tiny_llama", 1000), IMITATION
    )
    record_teacher(client, experiment, parent, REFERENCE)
    hour_ago, in_an_hour = (int((time.time() + s) * 1000) for s in (-3600, 3600))
    older = MEASURED_TAGS | {TAG_LLM: "openai:older"}
    older_id = log_run(client, experiment, older, {metrics.NQ_EM: 0.99}, start_time=hour_ago)
    _evaluate_nq(tmp_path, uri, "teacher")
    [measured] = client.search_runs(
        [experiment], f"tags.{TAG_KIND} = '{KIND_EVALUATE}'", order_by=["start_time DESC"]
    )[:1]
    # Newer, but not the teacher's: a failed teacher run and a plain evaluation.
    failed = MEASURED_TAGS | {TAG_LLM: "openai:failed"}
    log_run(client, experiment, failed, {metrics.NQ_EM: 0.5}, "FAILED", in_an_hour)
    plain = {TAG_KIND: KIND_EVALUATE, TAG_LLM: "openai:plain"}
    plain_id = log_run(client, experiment, plain, {metrics.NQ_EM: 0.77}, start_time=in_an_hour)
    out = tmp_path / "report"
    page = main([parent, "--tracking-uri", uri, "--out", str(out), "--no-log"])
    return measured, out, page, Sweep(tmp_path, uri, parent, older_id, plain_id)


@dataclass
class Sweep:
    folder: Path
    uri: str
    parent: str
    older_teacher: str  # an earlier measured teacher run
    plain: str  # an evaluate run without role=teacher


def _teacher_nq(sweep: Sweep, *options: str) -> list:
    """Table 1's teacher row of the report with ``options``."""
    out = sweep.folder / f"report_{len(list(sweep.folder.glob('report_*')))}"
    main([sweep.parent, "--tracking-uri", sweep.uri, "--out", str(out), "--no-log", *options])
    return json.loads((out / "table1_nq.json").read_text())["rows"][3]


def test_measured_teacher_overrides_the_reference_for_its_metrics(sweep_and_teachers) -> None:
    measured, out, page, _ = sweep_and_teachers
    assert measured.data.tags[cells.TAG_ROLE] == cells.ROLE_TEACHER
    nq, llm = measured.data.metrics[metrics.NQ_EM], measured.data.tags[TAG_LLM]
    assert metrics.MMLU_ACC not in measured.data.metrics and nq != 0.31
    run = measured.info.run_id
    teacher = json.loads((out / "teacher.json").read_text())
    assert teacher[metrics.NQ_EM] == {"value": nq, "source": f"measured: run {run}, {llm}"}
    assert teacher[metrics.MMLU_ACC]["value"] == 0.70  # the reference's: nothing measured it
    assert teacher[metrics.MMLU_ACC]["source"].startswith("reference: ChatGPT (conf/reference")

    table1 = json.loads((out / "table1_nq.json").read_text())
    assert table1["rows"][3][0] == f"{llm} (teacher row, measured)"
    assert set(table1["rows"][3][1:]) == {nq}
    assert set(table1["sources"][3][1:]) == {f"measured: run {run}, {llm}"}
    gaps = json.loads((out / "gap_closure.json").read_text())
    [row], [sources] = gaps["rows"], gaps["sources"]
    column = {m: gaps["columns"].index(m) for m in (metrics.NQ_EM, metrics.MMLU_ACC)}
    assert row[column[metrics.NQ_EM]] == pytest.approx((0.10 - 0.05) / (nq - 0.05))
    assert row[column[metrics.MMLU_ACC]] == pytest.approx((0.30 - 0.25) / (0.70 - 0.25))
    assert sources[column[metrics.NQ_EM]].startswith("measured")
    assert sources[column[metrics.MMLU_ACC]].startswith("reference")

    fig4 = {p["metric"]: p for p in json.loads((out / "fig4_top.json").read_text())["panels"]}
    assert fig4[metrics.NQ_EM]["references"] == {"base tiny_llama": 0.05, f"{llm} (measured)": nq}
    assert fig4[metrics.MMLU_ACC]["references"] == {
        "base tiny_llama": 0.25,
        "ChatGPT (reference)": 0.70,
    }


def test_the_page_marks_measured_and_reference_numbers_and_names_the_run(
    sweep_and_teachers,
) -> None:
    measured, _, page, _ = sweep_and_teachers
    text = page.read_text()
    assert "<span class='source measured'>measured</span>" in text  # Table 1's teacher row
    assert "<span class='source reference'>reference</span>" in text  # gap closure, MMLU
    assert f"title='teacher measured: run {measured.info.run_id}" in text
    note = text[text.index("<p id='teacher'>") :].split("</p>")[0]
    assert f"measured: run {measured.info.run_id}" in note and metrics.NQ_EM in note
    assert "reference: ChatGPT" in note and metrics.MMLU_ACC in note


def test_teacher_run_option_picks_a_measured_run_or_the_reference(sweep_and_teachers) -> None:
    *_, sweep = sweep_and_teachers
    label, *older = _teacher_nq(sweep, "--teacher-run", sweep.older_teacher)
    assert label == "openai:older (teacher row, measured)" and set(older) == {0.99}
    label, *reference = _teacher_nq(sweep, "--teacher-run", "reference")
    assert label == "ChatGPT (teacher row, entered)" and set(reference) == {0.31}
    with pytest.raises(
        SystemExit,
        match=f"--teacher-run {sweep.plain}: not a FINISHED imitate.evaluate run with role=teacher",
    ):
        _teacher_nq(sweep, "--teacher-run", sweep.plain)
    with pytest.raises(SystemExit, match="--teacher-run 0123456789abcdef0123456789abcdef: Run"):
        _teacher_nq(sweep, "--teacher-run", "0123456789abcdef0123456789abcdef")


def test_without_a_measured_run_the_page_says_how_to_measure_one(tmp_path) -> None:
    client, experiment, uri = store(tmp_path)
    parent = log_run(client, experiment, {cells.TAG_ROLE: cells.ROLE_SWEEP}, {})
    record_teacher(client, experiment, parent, REFERENCE)
    page = main([parent, "--tracking-uri", uri, "--out", str(tmp_path / "r"), "--no-log"])
    note = page.read_text().split("<p id='teacher'>")[1].split("</p>")[0]
    assert "reference: ChatGPT" in note and "eval=paper role=teacher" in note
    table1 = json.loads((tmp_path / "r" / "table1_nq.json").read_text())
    assert table1["rows"][3][0] == "ChatGPT (teacher row, entered)"


def test_an_unknown_role_is_refused_before_anything_runs(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ValueError, match="role='student' is not valid; valid: teacher"):
        _evaluate_nq(tmp_path, uri, "student")
    assert not (tmp_path / "mlflow.db").exists()  # no run was opened


def test_chatgpt2_given_the_sweep_fills_table2_from_any_experiment(tmp_path) -> None:
    """`python -m imitate.judge chatgpt2 log.parent_run_id=<sweep>` under its own experiment."""
    from omegaconf import open_dict

    from imitate.judge import commands
    from tests.support.judging import vicuna_like

    client, experiment, uri = store(tmp_path, "mini_contrast")
    parent = log_run(client, experiment, {cells.TAG_ROLE: cells.ROLE_SWEEP}, {})
    base = cell_tags(parent, cells.ROLE_BASE, "tiny_llama", 1000)
    log_run(client, experiment, base, BASE | {metrics.STYLE_UNIGRAM_F1: 20.0})
    record_teacher(client, experiment, parent, REFERENCE)  # no style values: those are measured
    overrides = ["command=chatgpt2", f"log.parent_run_id={parent}", f"tracking.uri={uri}"]
    cfg = compose_config(overrides, config_name="judging")
    with open_dict(cfg):
        cfg.prompts = vicuna_like()
        cfg.tracking.artifact_root = str(tmp_path / "judge_artifacts")
    values = commands.chatgpt2(cfg)
    assert cfg.tracking.experiment != "mini_contrast"  # logged into another experiment

    main([parent, "--tracking-uri", uri, "--out", str(tmp_path / "r"), "--no-log"])
    table2 = json.loads((tmp_path / "r" / "table2_style.json").read_text())
    column = table2["columns"].index("ChatGPT #2")
    row = [r[0].split(" ")[0] for r in table2["rows"]].index(metrics.STYLE_UNIGRAM_F1)
    assert table2["rows"][row][column] == pytest.approx(values[metrics.STYLE_UNIGRAM_F1])
    assert table2["sources"][row][column].startswith("measured: run ")
    assert table2["rows"][row][table2["columns"].index("base tiny_llama")] == 20.0
