"""The planner: meta-device counts, its memory model against a measured peak, the CLI's report."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from torch.distributed._tools.mem_tracker import MemTracker

from imitate.model import flops
from imitate.model.optim import ParamScaledAdamW
from imitate.plan import Setup, memory_per_device, model_shape, report, total
from tests.conftest import compose_config
from tests.support.subprocess_run import run_imitate

MICRO_BATCH, SEQ_LEN = 4, 64


def _measured_peak_bytes(model: torch.nn.Module) -> int:
    """Peak tensor memory of an fp32 training step (after a first step created optimizer state)."""
    optimizer = ParamScaledAdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, 1000, (MICRO_BATCH, SEQ_LEN), generator=torch.manual_seed(0))
    tracker = MemTracker()
    tracker.track_external(model, optimizer)
    with tracker:
        for _ in range(2):
            model(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            tracker.reset_mod_stats()
    return tracker.get_tracker_snapshot("peak")[torch.device("cpu")]["Total"]


@pytest.mark.parametrize("model", ["tiny_llama", "tiny_gpt2"])
def test_memory_estimate_is_within_25_percent_of_the_measured_peak(model) -> None:
    cfg = compose_config([f"model={model}"])
    shape = model_shape(cfg.model.backbone)
    estimate = total(
        memory_per_device(shape, Setup("single", 1, MICRO_BATCH, SEQ_LEN, 4, 4)), False
    )
    measured = _measured_peak_bytes(instantiate(cfg.model.backbone))
    assert estimate == pytest.approx(measured, rel=0.25)


def test_fsdp_shards_weights_gradients_and_optimizer_over_the_world() -> None:
    shape = model_shape(compose_config(["model=llama_13b"]).model.backbone)
    one = memory_per_device(shape, Setup("ddp", 8, 1, 2048, 4, 2))
    eight = memory_per_device(shape, Setup("fsdp", 8, 1, 2048, 4, 2))
    assert eight["optimizer"] == pytest.approx(one["optimizer"] / 8)
    assert eight["gradients"] == pytest.approx(one["gradients"] / 8)
    assert eight["activations_checkpointed"] < eight["activations"] / 10


def _line(text: str, start: str) -> str:
    [line] = [line.strip() for line in text.splitlines() if line.strip().startswith(start)]
    return line


def test_report_for_the_paper_models_on_8_gpus() -> None:
    cfg = compose_config(["model=llama_13b", "plan.gpu=h100"], config_name="plan")
    text = report(cfg, "llama_13b")
    assert "llama_13b: 13.02B params" in text and "fsdp on 8× NVIDIA H100" in text
    # Micro-batch 4 × 1024 on 80 GB: 76 GiB of activations do not fit, checkpointed ones do.
    assert _line(text, "total without activation checkpointing:").endswith("(DOES NOT FIT)")
    assert _line(text, "total with activation checkpointing:").endswith("(fits)")
    gpt2 = compose_config(["model=gpt2_1.5b", "data.block_size=2048"], config_name="plan")
    assert "WILL NOT RUN: data.block_size=2048" in report(gpt2)


def test_the_wall_time_uses_the_flops_formula_that_train_mfu_uses(monkeypatch) -> None:
    cfg = compose_config(["model=llama_7b", "plan.mfu=1.0"], config_name="plan")
    expected = flops.flops_per_token(instantiate(cfg.model.backbone, device="meta"), 1024)
    peak = cfg.plan.world_size * flops.accelerator_named(cfg.plan.gpu).peak_bf16_flops
    hours = cfg.plan.tokens * expected / peak / 3600
    assert _line(report(cfg), "150.0M tokens at").endswith(f"~{hours:.2f} h")
    monkeypatch.setattr(flops, "flops_per_token", lambda model, seq_len: 123.4e9)
    assert "at 123.4 GFLOP/token" in report(cfg)


def test_cli_sweeps_the_paper_grid(tmp_path) -> None:
    done = run_imitate(["-m"], module="imitate.plan", cwd=tmp_path, uri=None, timeout_s=300)
    for model in ("gpt2_1.5b", "llama_7b", "llama_13b"):
        for gpu in ("A100 80GB", "H100 SXM"):
            assert any(model in line and gpu in line for line in done.stdout.splitlines())


def test_unknown_gpu_lists_the_table() -> None:
    with pytest.raises(ValueError, match="a100_80gb"):
        report(compose_config(["plan.gpu=tpu"], config_name="plan"))


def test_an_unknown_dtype_names_its_key() -> None:
    cfg = compose_config(["plan.strategy=single", "model.backbone.dtype=bf16"], config_name="plan")
    with pytest.raises(ValueError, match=r"model.backbone.dtype='bf16' is not a torch dtype"):
        report(cfg)
