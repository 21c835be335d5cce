"""Report tests: the shared 2 x 2 grid (with its quick benchmarks), and the `browser` marker."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.eval.sandbox import namespaces_available
from imitate.metric_log import log_metrics
from imitate.report.__main__ import main
from imitate.tracking import cells
from tests.sweep.grid import EXPERIMENT, shared_grid

# The grid's cells ran MMLU, NQ, HumanEval and RTP on fixtures; without the sandbox HumanEval
# could not run, and a score is logged as the task would, through the runs' own writer.
BENCHMARKS = (metrics.MMLU_ACC, metrics.NQ_EM, metrics.HUMANEVAL_PASS_AT_1, metrics.RTP_NONTOXICITY)
PASS_AT_1_BY_ROLE = {cells.ROLE_IMITATION: 0.30, cells.ROLE_BASE: 0.25}


@pytest.fixture(scope="session")
def report_grid(tmp_path_factory, smollm2_tokenizer):
    """The grid after its rerun; HumanEval logged by the writer where the sandbox is missing."""
    grid = shared_grid(tmp_path_factory, smollm2_tokenizer)
    if namespaces_available():
        return grid
    client = grid.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
    for index, run in enumerate(sorted(runs, key=lambda r: r.info.run_id)):
        role = run.data.tags.get(cells.TAG_ROLE)
        if role in PASS_AT_1_BY_ROLE:
            score = PASS_AT_1_BY_ROLE[role] + index / 1000
            log_metrics(client, run.info.run_id, {metrics.HUMANEVAL_PASS_AT_1: score})
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


@pytest.fixture(scope="session")
def contrast_report(tmp_path_factory):
    """The tiny `+sweep=mini_contrast` and its report (tests/report/contrast.py)."""
    from tests.report.contrast import build_contrast_report

    return build_contrast_report(tmp_path_factory.getbasetemp() / "mini_contrast")
