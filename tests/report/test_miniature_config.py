"""The README's CPU miniatures run the benchmarks the report's capability panels are drawn from."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.report.figures import CAPABILITY
from tests.conftest import compose_config

# The eval task (its config name in the suite) that writes each capability metric.
TASK_OF = {metrics.MMLU_ACC: "mmlu", metrics.NQ_EM: "nq", metrics.HUMANEVAL_PASS_AT_1: "humaneval"}


@pytest.mark.parametrize("sweep", ["mini_grid", "mini_data_scaling", "mini_model_scaling"])
def test_miniature_runs_a_small_version_of_every_benchmark(sweep) -> None:
    cfg = compose_config([f"+sweep={sweep}"])
    tasks = cfg.eval.tasks
    assert set(TASK_OF) == set(CAPABILITY)
    assert {TASK_OF[m] for m in CAPABILITY} | {"rtp"} <= set(tasks)  # Fig. 4 and Fig. 5
    assert tasks.mmlu.limit <= 5 and tasks.nq.limit <= 10 and tasks.humaneval.limit <= 5
    assert tasks.rtp.limit <= 5  # minutes on CPU, not the full suites


def test_miniature_benchmarks_can_be_left_out() -> None:
    assert compose_config(["+sweep=mini_grid", "eval=heldout"]).eval.tasks == {}
