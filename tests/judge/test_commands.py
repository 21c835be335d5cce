"""``python -m imitate.judge`` commands end to end: scripted judge, fixture prompt sets, MLflow round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict

from imitate import metrics
from imitate.judge import commands
from imitate.reply_pair import ReplyPair
from imitate.style.similarity import style_metrics, style_rows
from tests.conftest import REPO, compose_config
from tests.support.config_targets import bind, targets
from tests.support.judging import FIXTURES, only_run, table, vicuna_like
from tests.support.subprocess_run import run_imitate

COMMANDS = sorted(commands.COMMANDS)
SCRIPTED = "tests.judge.scripted.ScriptedLLM"


@pytest.mark.parametrize(
    "overrides",
    [[f"command={c}"] for c in COMMANDS]
    + [["command=compare", o] for o in ("prompts=koala", "prompts=alpaca_eval", "prompts=sharegpt_heldout", "prompts=generations", "style=llm_judge", "style=lexicon", "llm=gpt-4o-mini")]
    + [["command=compare", "llm=hf", "+model=smollm2_135m", "+llm@candidate.llm=local_server", "candidate.llm.model=mine"]],
)  # fmt: skip
def test_judging_config_composes_and_targets_bind(overrides: list[str]) -> None:
    cfg = compose_config(overrides, config_name="judging")
    for where, node in targets(OmegaConf.to_container(cfg, resolve=False), ""):
        bind(where, node)


def judging_cfg(tmp_path: Path, command: str, rule: str = "prefer_good", **overrides) -> DictConfig:
    cfg = compose_config([f"command={command}"], config_name="judging")
    with open_dict(cfg):
        cfg.tracking.experiment = tmp_path.name
        cfg.prompts = vicuna_like()
        cfg.llm = {"_target_": SCRIPTED, "rule": rule}
        cfg.candidate.outputs = str(FIXTURES / "candidate_outputs.jsonl")
        cfg.candidate.name = "fixture-model"
        cfg.tracking.uri = f"sqlite:///{tmp_path.parent}/mlflow.db"
        cfg.tracking.artifact_root = str(tmp_path / "artifacts")
        for key, value in overrides.items():
            OmegaConf.update(cfg, key, value)
    return cfg


def test_compare_logs_metrics_and_the_per_pair_table(tmp_path) -> None:
    cfg = judging_cfg(tmp_path, "compare")
    values = commands.compare(cfg)
    # candidate 1 and 3 say GOOD (wins), 2 matches a reference without GOOD (tie)
    assert values[metrics.JUDGE_WIN_RATE] == pytest.approx(2 / 3)
    assert values[metrics.JUDGE_TIE_RATE] == pytest.approx(1 / 3)
    assert metrics.JUDGE_LC_WIN_RATE in values
    client, run = only_run(cfg)
    assert run.data.metrics[metrics.JUDGE_PREFERENCE] == pytest.approx(1.0)
    assert run.data.tags["kind"] == "judge" and run.data.tags["judge.command"] == "compare"
    assert run.data.tags["judge.candidate"] == "fixture-model"
    assert run.data.tags["judge.model"] == "scripted:prefer_good"
    rows = table(client, run.info.run_id, "compare_pairs")
    assert [r["outcome"] for r in rows] == ["win", "tie", "win"]
    assert "[[A]]" in rows[0]["candidate_first_reply"]


def test_compare_logs_into_an_existing_run(tmp_path) -> None:
    cfg = judging_cfg(tmp_path, "compare")
    client = MlflowClient(cfg.tracking.uri)
    experiment = client.create_experiment(f"{tmp_path.name}_cell", (tmp_path / "a").as_uri())
    cell = client.create_run(experiment, tags={"role": "imitation", "kind": "train"}).info.run_id
    with open_dict(cfg):
        cfg.log.run_id = cell
    commands.compare(cfg)
    run = client.get_run(cell)
    assert run.data.tags["role"] == "imitation" and run.data.tags["kind"] == "train"  # untouched
    assert run.data.tags["judge.command"] == "compare"
    assert run.data.metrics[metrics.JUDGE_WIN_RATE] == pytest.approx(2 / 3)


def test_chatgpt2_is_a_teacher_row_that_the_report_reads(tmp_path) -> None:
    from imitate.report.collect import collect_rows  # the report's own reader

    cfg = judging_cfg(tmp_path, "chatgpt2")
    values = commands.chatgpt2(cfg)
    pairs = [ReplyPair(i["id"], "", i["second"], i["reference"]) for i in _fixture_items()]
    assert values == pytest.approx(style_metrics(style_rows(pairs)))
    client, run = only_run(cfg)
    assert run.data.tags["role"] == "teacher" and run.data.tags["teacher"] == "ChatGPT #2"
    [row] = collect_rows(client, run.info.experiment_id, None)
    assert row.role == "teacher" and row.model == "ChatGPT #2"
    assert row.source == "measured"  # computed by imitate, not typed in from conf/reference
    for name in (metrics.STYLE_LIST, metrics.STYLE_UNIGRAM_F1, metrics.STYLE_LENGTH_PEARSON):
        assert row.metrics[name] == pytest.approx(values[name])


def _fixture_items() -> list[dict]:
    from imitate.data.report import DataReport
    from imitate.style.prompt_sets import build_prompt_set

    items = build_prompt_set(vicuna_like(), DataReport())
    return [{"id": i.id, "second": i.second_reference, "reference": i.reference} for i in items]


def test_style_with_the_llm_judge_for_tone(tmp_path) -> None:
    cfg = judging_cfg(tmp_path, "style", rule="tone")
    with open_dict(cfg):
        cfg.style = OmegaConf.load(REPO / "conf/style/llm_judge.yaml")
    values = commands.style(cfg)
    assert values[metrics.STYLE_AUTHORITATIVE_JUDGE] == 0.0  # no fixture output says "clearly"
    assert metrics.STYLE_AUTHORITATIVE_LEXICON not in values  # the proxy only with style=lexicon
    client, run = only_run(cfg)
    rows = table(client, run.info.run_id, "style_rows")
    assert [r["judge_authoritative"] for r in rows] == [False, False, False]


def test_the_lexicon_tone_proxy_only_with_style_lexicon(tmp_path) -> None:
    cfg = judging_cfg(tmp_path, "style")
    assert cfg.style.lexicon_tone is False  # the default style= reports no authority row
    with open_dict(cfg):
        cfg.style = OmegaConf.load(REPO / "conf/style/lexicon.yaml")
    values = commands.style(cfg)
    assert metrics.STYLE_AUTHORITATIVE_LEXICON in values
    client, run = only_run(cfg)
    assert {"hedges", "boosters"} <= set(table(client, run.info.run_id, "style_rows")[0])


def test_calibrate_prints_the_lopsidedness_and_logs_the_table(tmp_path, capsys) -> None:
    cfg = judging_cfg(
        tmp_path, "calibrate", rule="prefer_longer", **{"calibration.pairs": str(FIXTURES / "calibration_pairs.jsonl")}
    )  # fmt: skip
    commands.calibrate(cfg)
    printed = capsys.readouterr().out
    assert "output_2 preferred on 66.7% of the decisive ones" in printed
    assert "longer output wins" in printed and "always output_2" in printed
    client, run = only_run(cfg)
    rows = {r["predictor"]: r for r in table(client, run.info.run_id, "calibrate_agreement")}
    assert rows["always output_2"]["kappa"] == 0.0
    assert rows["judge scripted:prefer_longer (both orders)"]["agreement"] == pytest.approx(5 / 6)
    logged = run.data.metrics
    assert logged[metrics.JUDGE_GOLD_AGREEMENT] == pytest.approx(5 / 6)
    assert logged[metrics.JUDGE_GOLD_KAPPA] == pytest.approx(
        rows["judge scripted:prefer_longer (both orders)"]["kappa"]
    )
    assert logged[metrics.JUDGE_GOLD_BASELINE_AGREEMENT] == pytest.approx(2 / 3)


def test_agreement_over_the_rating_export(tmp_path, capsys) -> None:
    cfg = judging_cfg(tmp_path, "agreement", human_export=str(FIXTURES / "human_export.jsonl"))
    commands.human_agreement(cfg)
    assert "s1_agreement = 0.6" in capsys.readouterr().out
    client, run = only_run(cfg)
    path = client.download_artifacts(run.info.run_id, "judge/agreement_agreement.json")
    assert json.loads(Path(path).read_text())["s2_agreement"] == pytest.approx(2 / 3)
    assert run.data.metrics[metrics.JUDGE_HUMAN_AGREEMENT_S1] == pytest.approx(0.6)
    assert run.data.metrics[metrics.JUDGE_HUMAN_AGREEMENT_S2] == pytest.approx(2 / 3)


def test_a_missing_judge_model_is_a_clear_error(tmp_path) -> None:
    cfg = judging_cfg(tmp_path, "compare")
    with open_dict(cfg):
        cfg.llm = None
    with pytest.raises(ValueError, match="needs a judge model: add llm="):
        commands.compare(cfg)


@pytest.mark.slow  # a fresh interpreter importing mlflow and sklearn: ~30 s on a loaded 2-core box
def test_cli_without_a_command_prints_usage(tmp_path) -> None:
    done = run_imitate(
        [], module="imitate.judge", cwd=tmp_path, uri=None, timeout_s=120, check=False
    )
    assert done.returncode == 2 and "compare" in done.stderr and "calibrate" in done.stderr


def test_style_on_a_training_runs_generations_table(tmp_path) -> None:
    table = str(FIXTURES / "generations.json")
    cfg = judging_cfg(
        tmp_path, "style", **{"candidate.outputs": table, "candidate.format": "generations"}
    )
    with open_dict(cfg):
        cfg.prompts = OmegaConf.load(REPO / "conf/prompts/generations.yaml")
        cfg.prompts.prompts.path = table
    values = commands.style(cfg)
    assert values[metrics.STYLE_LIST] == 0.0 and values[metrics.STYLE_SUMMARY] == 0.0  # h1 only
    assert values[metrics.STYLE_LENGTH_PEARSON] == pytest.approx(1.0)  # two prompts: r = +-1
    with open_dict(cfg):
        cfg.candidate.format = "csv"
    with pytest.raises(ValueError, match="valid: generations, outputs"):
        commands.style(cfg)
