"""The 2 x 2 miniature grid end to end: parent and children in MLflow, one failed cell, the rerun."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.tracking import cells
from tests.sweep.grid import BYTES_MODEL, EXPERIMENT, shared_grid

pytestmark = pytest.mark.slow
FAILING_CELL = "data.max_tokens=1024 model=tiny_llama"


@pytest.fixture(scope="module")
def grid(tmp_path_factory, smollm2_tokenizer):
    return shared_grid(tmp_path_factory, smollm2_tokenizer)


def _runs(grid, role: str):
    client = grid.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id], f"tags.{cells.TAG_ROLE} = '{role}'")


def test_one_parent_with_children_tagged_by_grid_cell(grid) -> None:
    [parent] = _runs(grid, cells.ROLE_SWEEP)
    children = _runs(grid, cells.ROLE_IMITATION)
    assert {run.data.tags[cells.TAG_PARENT] for run in children} == {parent.info.run_id}
    finished = [run for run in children if run.info.status == "FINISHED"]
    coordinates = {
        (run.data.tags["grid.data.max_tokens"], run.data.tags["grid.model"]) for run in finished
    }
    assert coordinates == {(t, m) for t in ("512", "1024") for m in ("tiny_llama", BYTES_MODEL)}
    for run in finished:
        assert len(run.data.tags[cells.TAG_CONFIG_HASH]) == 16
        assert int(run.data.tags[cells.TAG_PARAMETERS]) > 0
        assert metrics.HELDOUT_LOSS in run.data.metrics


def test_base_and_teacher_rows_are_recorded_once(grid) -> None:
    [parent] = _runs(grid, cells.ROLE_SWEEP)
    base = _runs(grid, cells.ROLE_BASE)
    assert sorted(run.data.tags["group.model"] for run in base) == sorted(
        ["tiny_llama", BYTES_MODEL]
    )
    assert all(run.info.status == "FINISHED" for run in base)
    assert all("grid.data.max_tokens" not in run.data.tags for run in base)  # budget-free
    assert all(run.data.params["train"] == "False" for run in base)
    [teacher] = _runs(grid, cells.ROLE_TEACHER)
    assert teacher.data.tags[cells.TAG_PARENT] == parent.info.run_id


def test_failed_cell_leaves_the_others_finished_and_a_status_table(grid) -> None:
    assert grid.first.returncode == 1, grid.first.stderr[-3000:]
    imitation = [row for row in grid.first_status if row["role"] == cells.ROLE_IMITATION]
    assert sorted(row["status"] for row in imitation) == [
        "FAILED",
        "FINISHED",
        "FINISHED",
        "FINISHED",
    ]
    [failed] = [row for row in imitation if row["status"] == "FAILED"]
    assert failed["cell"] == FAILING_CELL
    assert failed["error"].startswith("ValueError: data.max_tokens=1,024 but the sources")
    assert grid.client.get_run(failed["run_id"]).info.status == "FAILED"
    assert FAILING_CELL in grid.first.stdout  # the table is printed at the end


def test_rerun_runs_only_the_failed_cell(grid) -> None:
    assert grid.second.returncode == 0, grid.second.stderr[-3000:]
    [parent] = _runs(grid, cells.ROLE_SWEEP)  # the same parent, reopened
    assert parent.info.status == "FINISHED"
    status = {(row["role"], row["cell"]): row for row in _final_status(grid)}
    assert status[(cells.ROLE_IMITATION, FAILING_CELL)]["status"] == "FINISHED"
    others = [row for key, row in status.items() if key != (cells.ROLE_IMITATION, FAILING_CELL)]
    assert {row["status"] for row in others} == {"SKIPPED"}
    # 4 cells + the failed attempt: nothing but the failed cell was trained again
    assert len(_runs(grid, cells.ROLE_IMITATION)) == 5
    assert len(_runs(grid, cells.ROLE_BASE)) == 2


def test_grid_timing_is_reported(grid) -> None:
    print(f"\n2x2 grid: first run {grid.first_seconds:.0f} s, rerun {grid.second_seconds:.0f} s")


def _final_status(grid) -> list[dict]:
    from dataclasses import asdict

    from imitate.tracking.status import read_status

    [parent] = _runs(grid, cells.ROLE_SWEEP)
    return [asdict(row) for row in read_status(grid.client, parent.info.run_id)]
