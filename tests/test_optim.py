"""The paper's optimiser: warm-up from 0, schedules, and updates scaled by each weight's RMS."""

from __future__ import annotations

import pytest
import torch

from imitate.model.optim import OptimConfig, ParamScaledAdamW, lr_multiplier


def test_warmup_starts_at_zero_and_reaches_one() -> None:
    assert lr_multiplier(0, 10, 100, "linear") == 0.0
    assert lr_multiplier(5, 10, 100, "linear") == pytest.approx(0.5)
    assert lr_multiplier(10, 10, 100, "linear") == pytest.approx(1.0)
    assert lr_multiplier(100, 10, 100, "linear") == pytest.approx(0.0)
    assert lr_multiplier(55, 10, 100, "cosine") == pytest.approx(0.5)
    assert lr_multiplier(90, 10, 100, "constant") == 1.0


def test_update_is_proportional_to_weight_rms() -> None:
    small = torch.nn.Parameter(torch.full((4, 4), 0.01))
    large = torch.nn.Parameter(torch.full((4, 4), 1.0))
    optimizer = ParamScaledAdamW([small, large], lr=0.1)
    small.grad = torch.ones_like(small)
    large.grad = torch.ones_like(large)
    optimizer.step()
    # Adam's first normalised step is ~1 for both; the RMS scale makes them 0.01 vs 1.0.
    assert (0.01 - small.detach()).mean().item() == pytest.approx(0.1 * 0.01, rel=1e-3)
    assert (1.0 - large.detach()).mean().item() == pytest.approx(0.1 * 1.0, rel=1e-3)


def test_unknown_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="valid: constant, linear, cosine"):
        OptimConfig(schedule="exponential")
