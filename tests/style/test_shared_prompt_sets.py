"""The shipped prompt sets on ../shared/data, and Vicuna-80's ChatGPT #2 (Table 2's upper bound)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from imitate import metrics
from imitate.data.report import DataReport
from imitate.reply_pair import ReplyPair
from imitate.style.prompt_sets import build_prompt_set
from imitate.style.similarity import style_metrics, style_rows
from tests.conftest import compose_config

pytestmark = pytest.mark.shared_data


def prompt_set(name: str, report: DataReport):
    cfg = compose_config(["command=compare", f"prompts={name}"], config_name="judging")
    return build_prompt_set(OmegaConf.to_container(cfg.prompts, resolve=True), report)


@pytest.mark.parametrize(
    ("name", "items", "dropped"), [("vicuna80", 80, 0), ("koala", 144, 36), ("alpaca_eval", 805, 0)]
)
def test_shipped_prompt_sets_load_with_their_counts(shared_data, name, items, dropped) -> None:
    report = DataReport()
    assert len(prompt_set(name, report)) == items
    assert report.counts["dropped_no_reference"] == dropped


def test_vicuna80_chatgpt2_is_in_the_papers_range(shared_data) -> None:
    """Paper's ChatGPT #2 row: list 83%, summary 55%, unigram F1 49.2, length r 0.67."""
    report = DataReport()
    items = prompt_set("vicuna80", report)
    assert all(i.second_reference for i in items) and report.counts["no_second_reference"] == 0
    pairs = [ReplyPair(i.id, i.prompt, i.second_reference, i.reference) for i in items]
    values = style_metrics(style_rows(pairs))
    # measured on the shipped data: 78.3 / 52.6 / 53.2 / 0.752 (see NOTES-judge.md)
    assert 65 <= values[metrics.STYLE_LIST] <= 95
    assert 35 <= values[metrics.STYLE_SUMMARY] <= 75
    assert 40 <= values[metrics.STYLE_UNIGRAM_F1] <= 65
    assert 0.5 <= values[metrics.STYLE_LENGTH_PEARSON] <= 0.9
