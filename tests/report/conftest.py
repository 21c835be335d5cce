"""Report tests: the shared 2 x 2 grid with benchmark metrics added, and the `browser` marker."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.report.__main__ import main
from imitate.tracking import cells
from tests.sweep.grid import EXPERIMENT, shared_grid

# MMLU scores logged onto the grid's runs as an eval task would; NQ etc. stay absent (a gap).
MMLU_BY_ROLE = {cells.ROLE_IMITATION: 0.30, cells.ROLE_BASE: 0.25}


@pytest.fixture(scope="session")
def report_grid(tmp_path_factory, smollm2_tokenizer):
    """The grid after its rerun, with mmlu/acc on every imitation and base run (varied per run)."""
    grid = shared_grid(tmp_path_factory, smollm2_tokenizer)
    client = grid.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
    for index, run in enumerate(sorted(runs, key=lambda r: r.info.run_id)):
        role = run.data.tags.get(cells.TAG_ROLE)
        if role in MMLU_BY_ROLE and metrics.MMLU_ACC not in run.data.metrics:
            client.log_metric(run.info.run_id, metrics.MMLU_ACC, MMLU_BY_ROLE[role] + index / 1000)
    return grid


@pytest.fixture(scope="session")
def report(report_grid, tmp_path_factory):
    """(client, parent run id, output folder, HTML page) of `python -m imitate.report <parent>`."""
    client = report_grid.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    [parent] = client.search_runs([experiment.experiment_id], f"tags.{cells.TAG_ROLE} = 'sweep'")
    out = tmp_path_factory.mktemp("report")
    page = main([parent.info.run_id, "--tracking-uri", report_grid.uri, "--out", str(out)])
    return client, parent.info.run_id, out, page
