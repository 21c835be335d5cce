"""A sweep rerun after its YAML changed: the report keeps the newest cell per grid point and names
the older ones it left out (fast: runs written to a fresh MLflow store as sweeps tag them)."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.report.collect import collect_rows
from imitate.tracking import cells
from tests.report.store import cell_tags, log_run, store

PARENT = "b" * 32


def _cell(client, experiment_id, config: str, grid: dict[str, str], f1: float, started: int) -> str:
    tags = cell_tags(PARENT, cells.ROLE_IMITATION, "smollm2_135m", 1000)
    tags |= {cells.TAG_CONFIG_HASH: config} | {cells.TAG_GRID + k: v for k, v in grid.items()}
    values = {metrics.STYLE_UNIGRAM_F1: f1}
    return log_run(client, experiment_id, tags, values, start_time=started)


def test_an_older_cell_at_the_same_grid_point_is_left_out_and_named(tmp_path) -> None:
    client, experiment_id, _ = store(tmp_path)
    old = _cell(client, experiment_id, "h128", {"data.max_tokens": "8k"}, 25.5, started=1_000)
    new = _cell(client, experiment_id, "h384", {"data.max_tokens": "8k"}, 29.5, started=2_000)
    other = _cell(client, experiment_id, "h384b", {"data.max_tokens": "24k"}, 29.9, started=3_000)
    with pytest.warns(UserWarning, match=f"1 older run.*left out: {old}"):
        rows = collect_rows(client, experiment_id, PARENT, teacher_run="reference")
    assert {row.run_id: row.metrics[metrics.STYLE_UNIGRAM_F1] for row in rows} == {
        new: 29.5,
        other: 29.9,
    }


def test_cells_that_differ_in_a_swept_key_are_all_kept(tmp_path, recwarn) -> None:
    client, experiment_id, _ = store(tmp_path)
    grid = {"data.max_tokens": "8k"}
    low = _cell(client, experiment_id, "a", grid | {"optim.lr": "1e-4"}, 27.0, started=1_000)
    high = _cell(client, experiment_id, "b", grid | {"optim.lr": "1e-3"}, 31.0, started=2_000)
    rows = collect_rows(client, experiment_id, PARENT, teacher_run="reference")
    assert sorted(row.run_id for row in rows) == sorted([low, high])
    assert not [w for w in recwarn if "left out" in str(w.message)]


def test_a_rerun_of_the_same_config_replaces_the_older_run_without_a_warning(
    tmp_path, recwarn
) -> None:
    client, experiment_id, _ = store(tmp_path)
    _cell(client, experiment_id, "same", {"data.max_tokens": "8k"}, 25.0, started=1_000)
    newer = _cell(client, experiment_id, "same", {"data.max_tokens": "8k"}, 26.0, started=2_000)
    rows = collect_rows(client, experiment_id, PARENT, teacher_run="reference")
    assert [row.run_id for row in rows] == [newer]
    assert not [w for w in recwarn if "left out" in str(w.message)]
