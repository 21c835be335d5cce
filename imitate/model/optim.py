"""The paper's optimiser and learning-rate schedule.

The paper (following Chowdhery et al. / Chung et al., as in EasyLM) uses AdamW with each update
re-scaled by the magnitude (RMS) of the weight it updates; that is why its learning rate of 2e-3
is safe: the effective step for a weight of RMS 0.02 is ~4e-5.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

SCHEDULES = ("constant", "linear", "cosine")


@dataclass
class OptimConfig:
    lr: float = 2e-3
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.0
    scale_by_param_rms: bool = True
    min_param_scale: float = 1e-3
    warmup_steps: int = 1000
    schedule: str = "linear"  # after warm-up: constant | linear (to 0) | cosine (to 0)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"optim.schedule={self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if len(self.betas) != 2:
            raise ValueError(f"optim.betas={list(self.betas)}; valid: two numbers (beta1, beta2)")
        self.betas = (self.betas[0], self.betas[1])  # a YAML list arrives as a list


class ParamScaledAdamW(torch.optim.Optimizer):
    """AdamW whose per-tensor update is multiplied by ``max(rms(weight), min_scale)``."""

    def __init__(
        self,
        params: Iterable,
        lr: float,
        betas=(0.9, 0.95),
        eps=1e-8,
        weight_decay=0.0,
        min_scale=1e-3,
    ):
        super().__init__(
            params,
            dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, min_scale=min_scale),
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad, group)
        return loss

    def _update(self, param: torch.Tensor, grad: torch.Tensor, group: dict) -> None:
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(param, dtype=torch.float32)
            state["exp_avg_sq"] = torch.zeros_like(param, dtype=torch.float32)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        grad = grad.float()
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        m_hat = state["exp_avg"] / (1 - beta1 ** state["step"])
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** state["step"])
        scale = param.float().pow(2).mean().sqrt().clamp_min(group["min_scale"])
        update = m_hat / (v_hat.sqrt() + group["eps"]) * scale
        if group["weight_decay"]:
            update = update + group["weight_decay"] * param.float()
        param.add_(update.to(param.dtype), alpha=-group["lr"])


def build_optimizer(params: Iterable, config: OptimConfig) -> torch.optim.Optimizer:
    if config.scale_by_param_rms:
        return ParamScaledAdamW(
            params, config.lr, config.betas, config.eps, config.weight_decay, config.min_param_scale
        )
    return torch.optim.AdamW(
        params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
    )


def lr_multiplier(
    step: int, warmup_steps: int, total_steps: int | Callable[[], int], schedule: str
) -> float:
    """Linear warm-up from 0 over ``warmup_steps``, then the named schedule down to ``total_steps``.

    ``total_steps`` may be a callable, asked only once decay has begun (see ``build_scheduler``).
    """
    if step < warmup_steps:
        return step / warmup_steps
    if schedule == "constant" or step == warmup_steps:
        return 1.0
    total_steps = total_steps() if callable(total_steps) else total_steps
    if total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: OptimConfig, total_steps: int | Callable[[], int]
) -> LambdaLR:
    """``total_steps`` as a callable is evaluated after the first decay step, not at construction."""
    if callable(total_steps):
        total_steps = functools.cache(total_steps)
    return LambdaLR(
        optimizer,
        lambda step: lr_multiplier(step, config.warmup_steps, total_steps, config.schedule),
    )
