"""The judge on real pieces: SmolLM2 in process as the judge model (llm=hf), the rating app's export."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf, open_dict

from imitate import metrics
from imitate.judge import agreement, commands
from imitate.judge.pairwise import PairwiseJudge
from imitate.llm.verdicts import ERROR
from imitate.rate import export
from imitate.rate.db import add_items
from imitate.rate.store import RatingStore
from imitate.reply_pair import ReplyPair
from tests.conftest import REPO, compose_config
from tests.judge.scripted import ScriptedLLM
from tests.support.judging import FIXTURES, only_run, table, vicuna_like


def test_compare_with_smollm2_in_process_as_the_judge(tmp_path, smollm2_tokenizer) -> None:
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
    # Greedy SmolLM2-135M in 12 tokens writes no verdict marker on these three pairs (measured):
    # every pair is an error row, kept and counted, never a guessed verdict.
    assert values == {metrics.JUDGE_UNPARSEABLE: 1.0}
    client, run = only_run(cfg)
    rows = table(client, run.info.run_id, "compare_pairs")
    assert len(rows) == 3 and all(r["candidate_first_reply"] for r in rows)  # real generations
    outcomes = [
        (r["candidate_first_outcome"], r["reference_first_outcome"], r["outcome"]) for r in rows
    ]
    assert outcomes == [(ERROR, ERROR, ERROR)] * 3
    assert run.data.tags["judge.model"].startswith("hf:")


def test_agreement_over_the_rating_apps_own_export(tmp_path) -> None:
    store_ = RatingStore(tmp_path / "ratings.db")
    items = [
        ReplyPair("i1", "q1", "GOOD model reply", "teacher reply"),
        ReplyPair("i2", "q2", "model reply", "GOOD teacher reply"),
    ]
    add_items(store_.path, items)
    # Each rater's verdict per item (whatever order the app shows the items in); the scripted
    # judge prefers the GOOD reply: i1 model, i2 teacher.
    wanted = {"ann": {"q1": "model", "q2": "teacher"}, "bob": {"q1": "tie", "q2": "model"}}
    for rater, verdicts in wanted.items():
        for _ in verdicts:
            screen = store_.screen(rater)
            model_side = "A" if screen.output_a in ("GOOD model reply", "model reply") else "B"
            teacher_side = "B" if model_side == "A" else "A"
            choice = {"model": model_side, "teacher": teacher_side, "tie": "equal"}
            store_.save(rater, screen.token, choice[verdicts[screen.instruction]])
    ratings = export.read_ratings(store_.path)
    paths = export.write_files(tmp_path / "export", ratings, export.summarise(ratings))

    rows = agreement.read_human_export(paths["judge_pairs"])
    assert sorted((r["item_id"], r["verdict"]) for r in rows) == [
        ("i1", "model"), ("i1", "tie"), ("i2", "model"), ("i2", "teacher"),
    ]  # fmt: skip
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf/judge/pairwise.yaml"))
    judged = PairwiseJudge(ScriptedLLM("prefer_good"), **cfg).judge(agreement.pairs_of_export(rows))
    result = agreement.human_judge_agreement(agreement.agreement_rows(rows, judged))
    # S1: ann agrees on both items, bob on neither (tie vs model, model vs teacher): 2 of 4.
    # S2 drops bob's tie: ann's two agree, bob's i2 does not: 2 of 3.
    assert result == {
        "rows": 4, "judge_errors": 0, "items": 2,
        "s1_rows": 4, "s1_agreement": 0.5, "s2_rows": 3, "s2_agreement": pytest.approx(2 / 3),
    }  # fmt: skip
