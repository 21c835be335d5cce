"""Calibration: agreement and kappa for the judge and the trivial baselines on the same pairs."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from imitate.data.report import DataReport
from imitate.judge import calibration
from imitate.judge.pairwise import PairwiseJudge
from tests.conftest import REPO
from tests.judge.scripted import ScriptedLLM

FIXTURE = REPO / "tests" / "fixtures" / "judge" / "calibration_pairs.jsonl"


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["predictor"]: row for row in rows}


def test_fixture_baselines_and_kappa_by_hand() -> None:
    report = DataReport()
    pairs = calibration.read_labelled_pairs(FIXTURE, report)
    assert len(pairs) == 7 and report.counts["skipped_unlabelled_pair"] == 1
    balance = calibration.label_balance(pairs)
    assert (balance["decisive"], balance["output_2_share"]) == (6, pytest.approx(4 / 6))

    cfg = OmegaConf.to_container(OmegaConf.load(REPO / "conf/judge/pairwise.yaml"))
    rows = PairwiseJudge(ScriptedLLM("prefer_longer"), **cfg).judge(
        calibration.as_judge_pairs(pairs)
    )
    judged = {"judge": [calibration.label_of_outcome(r["outcome"]) for r in rows]}
    table = by_name(calibration.calibration_table(pairs, judged, seed=0))

    always = table["always output_2"]
    assert (always["pairs"], always["agreement"], always["kappa"]) == (6, pytest.approx(4 / 6), 0.0)
    longer = table["longer output wins"]
    # gold 2,2,2,1,1,2 vs longer 2,2,2,1,2,2: po = 5/6, pe = 4/6*5/6 + 2/6*1/6 = 22/36
    assert longer["agreement"] == pytest.approx(5 / 6)
    assert longer["kappa"] == pytest.approx((30 / 36 - 22 / 36) / (1 - 22 / 36))
    assert table["judge"]["agreement"] == longer["agreement"]  # the scripted judge prefers length
    assert table["judge"]["kappa"] == pytest.approx(longer["kappa"])
    assert table["random (seed 0)"]["pairs"] == 6

    text = calibration.format_table(list(table.values()), balance)
    assert "66.7% of the decisive" in text and "always output_2" in text and "kappa" in text


def test_predicted_ties_and_unparseable_pairs() -> None:
    gold = ["2", "2", "1", "1.5"]
    row = calibration.agreement_row("p", gold, ["2", "1.5", None, "2"])
    # the gold tie is not decisive; None (unparseable) is left out; a predicted tie disagrees
    assert (row["pairs"], row["agreement"]) == (2, 0.5)
    assert calibration.agreement_row("none", gold, [None] * 4)["agreement"] is None


def test_bad_labels_are_refused(tmp_path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"instruction": "q", "output_1": "a", "output_2": "b", "label": 3}\n')
    with pytest.raises(ValueError, match="label 3; valid: 1, 2, 1.5 or 'tie'"):
        calibration.read_labelled_pairs(path, DataReport())
    path.write_text('{"instruction": "q", "output_1": "a", "label": "tie"}\n')
    with pytest.raises(ValueError, match="output_2"):
        calibration.read_labelled_pairs(path, DataReport())


@pytest.mark.shared_data
def test_alpaca_eval_is_lopsided_as_the_issue_says(shared_data) -> None:
    """GPT-4 prefers ChatGPT on 89.6% of decisive pairs; "longer wins" agrees 88.7%."""
    path = shared_data / "alpaca_eval/gpt-3.5-turbo-0301/alpaca_eval_gpt4_annotations.json"
    report = DataReport()
    pairs = calibration.read_labelled_pairs(path, report)
    assert len(pairs) == 804 and report.counts["skipped_unlabelled_pair"] == 1
    balance = calibration.label_balance(pairs)
    assert balance["decisive"] == 799
    assert round(100 * balance["output_2_share"], 1) == 89.6
    table = by_name(calibration.calibration_table(pairs, {}, seed=0))
    assert round(100 * table["always output_2"]["agreement"], 1) == 89.6
    assert table["always output_2"]["kappa"] == 0.0
    assert round(100 * table["longer output wins"]["agreement"], 1) == 88.7
    assert 0.2 < table["longer output wins"]["kappa"] < 0.6  # agreement near 89%, kappa far lower
    assert abs(table["random (seed 0)"]["agreement"] - 0.5) < 0.05
