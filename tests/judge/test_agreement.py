"""Judge-vs-human agreement (Zheng et al.'s S1 with ties, S2 without) over the rating app's export."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from imitate.judge import agreement
from imitate.judge.pairwise import PairwiseJudge
from tests.conftest import REPO
from tests.judge.scripted import ScriptedLLM

EXPORT = REPO / "tests" / "fixtures" / "judge" / "human_export.jsonl"


def test_s1_and_s2_by_hand() -> None:
    rows = [
        ("i1", "model", "model"),  # agree
        ("i1", "tie", "model"),  # S1 disagree, not in S2
        ("i2", "teacher", "teacher"),  # agree
        ("i3", "model", "teacher"),  # disagree
        ("i4", "tie", "tie"),  # S1 agree, not in S2
        ("i5", "model", "error"),  # unparseable judge: left out, counted
    ]
    result = agreement.human_judge_agreement(rows)
    assert (result["s1_rows"], result["s1_agreement"]) == (5, pytest.approx(3 / 5))
    assert (result["s2_rows"], result["s2_agreement"]) == (3, pytest.approx(2 / 3))
    assert (result["judge_errors"], result["items"], result["rows"]) == (1, 5, 6)


def test_unknown_verdicts_are_refused() -> None:
    with pytest.raises(ValueError, match="human verdict 'A'; valid: model, tie, teacher"):
        agreement.human_judge_agreement([("i", "A", "model")])
    with pytest.raises(ValueError, match="judge verdict"):
        agreement.human_judge_agreement([("i", "model", "win")])


def test_the_rating_apps_export_end_to_end() -> None:
    export = agreement.read_human_export(EXPORT)
    pairs = agreement.pairs_of_export(export)
    assert [p.id for p in pairs] == ["i1", "i2", "i3"]  # one judge pair per item, not per rating
    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf/judge/pairwise.yaml"))
    judged = PairwiseJudge(ScriptedLLM("prefer_good"), **cfg).judge(pairs)
    rows = agreement.agreement_rows(export, judged)
    # judge: i1 model (GOOD model reply), i2 teacher, i3 tie
    assert rows == [
        ("i1", "model", "model"),
        ("i1", "tie", "model"),
        ("i2", "teacher", "teacher"),
        ("i2", "model", "teacher"),
        ("i3", "tie", "tie"),
    ]
    result = agreement.human_judge_agreement(rows)
    assert result["s1_agreement"] == pytest.approx(3 / 5)
    assert result["s2_agreement"] == pytest.approx(2 / 3)


def test_export_missing_fields_names_the_line(tmp_path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text('{"item_id": "i", "verdict": "model"}\n')
    with pytest.raises(ValueError, match=r"export.jsonl:1: missing \['instruction'"):
        agreement.read_human_export(path)
