"""The GPU MFU benchmark's plumbing, run on CPU with the 2-layer model (no MFU on CPUs)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from imitate import metrics
from imitate.model import flops
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_mfu_bench_trains_with_and_without_activation_checkpointing_and_reports_both() -> None:
    tiny = ["--shape", "tiny", "--device", "cpu", "--steps", "4", "--seq", "64"]
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_mfu.py"), *tiny, "--global-batch", "8"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout[done.stdout.index("{") :])
    for variant in ("no_activation_checkpointing", "activation_checkpointing"):
        assert result[variant][metrics.TOKENS_PER_SECOND] > 0
        assert result[variant][flops.MFU] is None  # CPUs have no peak in the table
    assert result["activation_checkpointing_tokens_per_s_ratio"] > 0
