"""The judge on real pieces: SmolLM2 in process as the judge model (llm=hf), the rating app's export."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf, open_dict

from imitate import metrics
from imitate.judge import agreement, commands
from imitate.judge.pairwise import PairwiseJudge
from imitate.llm.verdicts import ERROR
from tests.conftest import REPO, compose_config
from tests.judge.scripted import ScriptedLLM
from tests.judge.test_commands import only_run, store, table, tmp_path  # noqa: F401  (fixtures)
from tests.style.test_prompt_sets import FIXTURES, vicuna_like


def test_compare_with_smollm2_in_process_as_the_judge(tmp_path, smollm2_tokenizer) -> None:  # noqa: F811
    cfg = compose_config(
        ["command=compare", "llm=hf", "+model=smollm2_135m", "judge.max_new_tokens=12"],
        config_name="judging",
    )
    with open_dict(cfg):
        cfg.prompts = vicuna_like()
        cfg.candidate.outputs = str(FIXTURES / "candidate_outputs.jsonl")
        cfg.tracking.experiment = tmp_path.name
        cfg.tracking.uri = f"sqlite:///{tmp_path.parent}/mlflow.db"
        cfg.tracking.artifact_root = str(tmp_path / "artifacts")
    values = commands.compare(cfg)
    assert 0.0 <= values[metrics.JUDGE_UNPARSEABLE] <= 1.0
    client, run = only_run(cfg)
    rows = table(client, run.info.run_id, "compare_pairs")
    assert len(rows) == 3 and all(r["candidate_first_reply"] for r in rows)  # real generations
    for row in rows:  # a 135M model rarely writes a marker: error rows, never a guessed verdict
        orders = (row["candidate_first_outcome"], row["reference_first_outcome"])
        assert (row["outcome"] == ERROR) == (ERROR in orders)
    assert run.data.tags["judge.model"].startswith("hf:")


def test_agreement_over_the_rating_apps_own_export(tmp_path) -> None:  # noqa: F811
    rate_db = pytest.importorskip("imitate.rate.db")
    from imitate.rate import export
    from imitate.rate.pairs import Pair as RatePair
    from imitate.rate.store import RatingStore

    store_ = RatingStore(tmp_path / "ratings.db")
    items = [
        RatePair("i1", "q1", "GOOD model reply", "teacher reply"),
        RatePair("i2", "q2", "model reply", "GOOD teacher reply"),
    ]
    rate_db.add_items(store_.path, items)
    for rater, wanted in {"ann": ("model", "teacher"), "bob": ("tie", "model")}.items():
        for verdict in wanted:
            screen = store_.screen(rater)
            model_side = "A" if screen.output_a.startswith(("GOOD model", "model")) else "B"
            teacher_side = "B" if model_side == "A" else "A"
            choice = {"model": model_side, "teacher": teacher_side, "tie": "equal"}[verdict]
            store_.save(rater, screen.token, choice)
    ratings = export.read_ratings(store_.path)
    paths = export.write_files(tmp_path / "export", ratings, export.summarise(ratings))

    rows = agreement.read_human_export(paths["judge_pairs"])
    assert len(rows) == 4
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf/judge/pairwise.yaml"))
    judged = PairwiseJudge(ScriptedLLM("prefer_good"), **cfg).judge(agreement.pairs_of_export(rows))
    result = agreement.human_judge_agreement(agreement.agreement_rows(rows, judged))
    # judge: i1 model, i2 teacher. Humans per item: i1 {model, tie} or {tie, model} ...
    by_item = {}
    for row in rows:
        by_item.setdefault(row["item_id"], []).append(row["verdict"])
    expected_s1 = (
        sum(v == {"i1": "model", "i2": "teacher"}[item] for item, vs in by_item.items() for v in vs)
        / 4
    )
    assert result["s1_agreement"] == pytest.approx(expected_s1)
    assert sorted(v for vs in by_item.values() for v in vs) == ["model", "model", "teacher", "tie"]
