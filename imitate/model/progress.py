"""Progress as plain lines for logs that are not a terminal (nohup, SLURM, CI).

A progress bar redraws one line with carriage returns: in a log file nothing appears until the run
ends (a user watched 18 minutes of silence). When stdout is not a TTY the trainer gets this
callback instead of the bar: one line every ``every_n_steps`` optimizer steps or ``every_s``
seconds, whichever comes first, and one at the end, e.g.
``step 40/200 (20%) loss 2.3114 142 tokens/s elapsed 0:04:41 ETA 0:18:44``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only

from imitate import metrics


@dataclass
class ProgressConfig:
    """``progress:`` in train.yaml: how often a non-interactive run prints a progress line."""

    every_n_steps: int = 50
    every_s: float = 60.0

    def __post_init__(self) -> None:
        if self.every_n_steps < 1 or self.every_s <= 0:
            raise ValueError(
                f"progress.every_n_steps={self.every_n_steps} must be >= 1 and "
                f"progress.every_s={self.every_s} > 0"
            )


class ProgressLog(pl.Callback):
    """Prints step/total, loss, tokens/s (since this fit started) and the ETA on rank 0."""

    def __init__(self, config: ProgressConfig, stream: TextIO | None = None) -> None:
        self.config = config
        self.stream = stream
        self._started = self._last_time = 0.0
        self._first_step = self._last_step = 0
        self._first_tokens = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = self._last_time = time.monotonic()
        self._first_step = self._last_step = trainer.global_step
        self._first_tokens = _metric(trainer, metrics.TOKENS_SEEN) or 0.0

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        step, now = trainer.global_step, time.monotonic()
        if step == self._last_step:
            return  # a micro-batch inside gradient accumulation
        if step % self.config.every_n_steps and now - self._last_time < self.config.every_s:
            return
        self._print(trainer, now)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step != self._last_step:
            self._print(trainer, time.monotonic())

    @rank_zero_only
    def _print(self, trainer: pl.Trainer, now: float) -> None:
        self._last_step, self._last_time = trainer.global_step, now
        print(progress_line(trainer, now - self._started, self._first_step, self._first_tokens),
              file=self.stream or sys.stdout, flush=True)  # fmt: skip


def progress_line(trainer: pl.Trainer, elapsed: float, first_step: int, first_tokens: float) -> str:
    """``step 40/200 (20%) loss 2.3114 142 tokens/s elapsed 0:04:41 ETA 0:18:44``."""
    step, total = trainer.global_step, trainer.estimated_stepping_batches
    parts = [f"step {step}/{total} ({step / total:.0%})" if total else f"step {step}"]
    loss = _metric(trainer, metrics.TRAIN_LOSS)
    if loss is not None:
        parts.append(f"loss {loss:.4f}")
    tokens = _metric(trainer, metrics.TOKENS_SEEN)
    if tokens is not None and elapsed > 0:
        parts.append(f"{(tokens - first_tokens) / elapsed:.0f} tokens/s")
    parts.append(f"elapsed {_clock(elapsed)}")
    done = step - first_step
    if total and done > 0:
        parts.append(f"ETA {_clock(elapsed / done * max(total - step, 0))}")
    return " ".join(parts)


def progress_callbacks(config: ProgressConfig, stream: TextIO | None = None) -> list[pl.Callback]:
    """``[ProgressLog]`` when ``stream`` (stdout) is not a terminal; none where a bar can redraw."""
    return [] if (stream or sys.stdout).isatty() else [ProgressLog(config, stream)]


def _metric(trainer: pl.Trainer, name: str) -> float | None:
    value = trainer.callback_metrics.get(name)
    return None if value is None else float(value)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))
