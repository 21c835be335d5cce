"""Progress lines where stdout is not a terminal: the cadence, the fields, and the choice by TTY."""

from __future__ import annotations

import io
import re

import pytorch_lightning as pl
import torch

from imitate import metrics
from imitate.model.progress import ProgressConfig, ProgressLog, progress_callbacks


class _Counting(pl.LightningModule):
    """Loss = 1/step and 64 tokens per step, logged under imitate's names."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.tokens = 0.0

    def training_step(self, batch, batch_idx):
        self.tokens += 64
        self.log(metrics.TRAIN_LOSS, 1.0 / (batch_idx + 1))
        self.log(metrics.TOKENS_SEEN, self.tokens)
        return (self.weight * batch[0]).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.ones(6, 1), batch_size=1)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _train(config: ProgressConfig) -> list[str]:
    stream = io.StringIO()
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[ProgressLog(config, stream)],
    )  # fmt: skip
    trainer.fit(_Counting())
    return stream.getvalue().splitlines()


def test_a_line_every_n_steps_and_one_at_the_end() -> None:
    lines = _train(ProgressConfig(every_n_steps=4, every_s=3600))
    assert [line.split(" loss")[0] for line in lines] == ["step 4/6 (67%)", "step 6/6 (100%)"]
    assert " loss 0.2500 " in lines[0] and " loss 0.1667 " in lines[1]  # 1/4, 1/6
    pattern = r"^step \d/6 \(\d+%\) loss \d\.\d{4} \d+ tokens/s elapsed 0:00:\d\d ETA 0:00:\d\d$"
    assert all(re.match(pattern, line) for line in lines), lines
    assert lines[1].endswith("ETA 0:00:00")


def test_a_line_every_step_when_the_interval_in_seconds_is_short() -> None:
    lines = _train(ProgressConfig(every_n_steps=1000, every_s=1e-9))
    assert [line.split(" ")[1] for line in lines] == ["1/6", "2/6", "3/6", "4/6", "5/6", "6/6"]


def test_lines_only_where_stdout_is_not_a_terminal() -> None:
    config = ProgressConfig()
    assert progress_callbacks(config, _Terminal()) == []
    [callback] = progress_callbacks(config, io.StringIO())
    assert isinstance(callback, ProgressLog)
