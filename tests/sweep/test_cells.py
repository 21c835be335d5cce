"""Fast checks of the sweep pieces: config hash, swept keys, reference scores, status table."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf, open_dict

from imitate import metrics
from imitate.tracking import cells
from imitate.tracking.reference import reference_scores
from imitate.tracking.status import CellStatus, status_table
from imitate.tracking.sweep import swept_keys
from tests.conftest import compose_config


def _cell(*overrides: str):
    cfg = compose_config(["+sweep=mini_grid", *overrides])
    with open_dict(cfg):
        cfg.output_dir = "/runs/a"  # ${hydra:runtime.output_dir} needs a Hydra run
    return cfg


def test_hash_ignores_where_results_go_but_not_what_is_computed() -> None:
    digest = cells.config_hash(_cell())
    moved = _cell("run_name=x", "tracking.experiment=other", "tracking.parent_run_id=abc")
    with open_dict(moved):
        moved.output_dir = "/elsewhere"
    assert cells.config_hash(moved) == digest
    assert cells.config_hash(_cell("data.max_tokens=2048")) != digest
    assert cells.config_hash(_cell("model=tiny_gpt2")) != digest


def test_base_rows_share_one_hash_across_budgets_optimisers_and_adapters() -> None:
    small = cells.base_row_config(_cell("data.max_tokens=512"), "/runs/base", "base")
    large = cells.base_row_config(_cell("data.max_tokens=4096", "optim.lr=1"), "/runs/b", "base")
    assert cells.config_hash(small) == cells.config_hash(large)
    lora = _cell("data.max_tokens=512", "adapter=lora", "adapter.rank=4")
    assert cells.config_hash(lora) != cells.config_hash(_cell("data.max_tokens=512"))
    # The base model under LoRA is the base model: one row for both adapters, evaluated plain.
    lora_base = cells.base_row_config(lora, "/runs/base", "base")
    assert lora_base.adapter.method == "none"
    assert cells.config_hash(lora_base) == cells.config_hash(small)
    assert cells.config_hash(small) != cells.config_hash(_cell("data.max_tokens=512"))
    assert not small.train and small.data.max_tokens == small.data.block_size


def test_tags_only_inside_a_sweep() -> None:
    assert cells.cell_tags(_cell(), {}) == {}
    tags = cells.cell_tags(
        _cell("tracking.parent_run_id=p1", "tracking.grid=[data.max_tokens,model]"),
        {"model": "tiny_llama"},
        parameters=3_200_000,  # counted by the caller (train.py, on the meta device)
    )
    assert tags[cells.TAG_PARENT] == "p1" and tags[cells.TAG_ROLE] == cells.ROLE_IMITATION
    assert tags["grid.data.max_tokens"] == "1024" and tags["grid.model"] == "tiny_llama"
    assert tags[cells.TAG_PARAMETERS] == "3200000"
    lora = _cell("adapter=lora", "tracking.parent_run_id=p1", "tracking.grid=[adapter,model]")
    base = cells.base_row_config(lora, "/runs/base", "base")
    choices = {"model": "tiny_llama", "adapter": "lora"}
    assert cells.cell_tags(lora, choices)["grid.adapter"] == "lora"
    assert "grid.adapter" not in cells.cell_tags(base, choices)  # no adapter in a base row


def test_swept_keys_come_from_the_command_and_the_sweeper_params() -> None:
    keys = swept_keys(
        ["+sweep=mini_grid", "seed=1,2", "data.block_size=64"],
        {"data.max_tokens": "512,1024", "+experiment": "a,b"},
    )
    assert keys == ["data.max_tokens", "experiment", "seed"]


def test_reference_scores_keep_values_and_refuse_unknown_metrics() -> None:
    reference = OmegaConf.create(
        {
            "name": "T",
            "scores": [
                {"metric": metrics.NQ_EM, "value": 0.3},
                {"metric": metrics.MMLU_ACC, "value": None},
            ],
        }
    )
    assert reference_scores(reference) == {metrics.NQ_EM: 0.3}
    typo = OmegaConf.create({"name": "T", "scores": [{"metric": "nq/exact", "value": 1}]})
    with pytest.raises(ValueError, match=r"scores\[0\].metric='nq/exact'.*nq/em"):
        reference_scores(typo)


def test_shipped_reference_has_a_source_for_every_score() -> None:
    cfg = compose_config(["+reference=chatgpt"])
    reference_scores(cfg.reference)  # every metric name is known
    assert all(entry.source for entry in cfg.reference.scores)


def test_status_table_lists_every_row() -> None:
    rows = [
        CellStatus("data.max_tokens=512 model=a", "imitation", "FINISHED", "r1", 3.0),
        CellStatus("a", "base", "FAILED", None, 1.0, "ValueError: bad | thing"),
    ]
    table = status_table(rows)
    assert "| data.max_tokens=512 model=a | imitation | FINISHED | r1 |" in table
    assert "bad \\| thing" in table
