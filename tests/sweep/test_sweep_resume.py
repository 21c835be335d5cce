"""A sweep cell killed mid-training continues from its checkpoint when the same sweep is rerun.

A real rerun lands in a new sweep folder (Hydra's timestamped default), so the cell must find the
checkpoints its killed run left in the old folder, through its MLflow run's checkpoint_dir tag.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from imitate import metrics
from imitate.tracking import cells
from tests.support.subprocess_run import imitate_command, imitate_env, mlflow_uri, run_imitate

pytestmark = pytest.mark.slow
STEPS = 32  # 16384 tokens / (8 sequences × 64 tokens): long enough to kill it half-way


def sweep_args(sweep_dir: Path) -> list[str]:
    return [
        "-m", "+experiment=smoke", "data.max_tokens=16384",
        "checkpoint.every_n_steps=1", "checkpoint.keep_last=2", "resume=auto",
        "tracking.experiment=resume_test", "eval.tasks.style.limit=1",
        f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip


def kill_after_a_checkpoint(args: list[str], workdir: Path, uri: str, checkpoints: Path) -> None:
    process = subprocess.Popen(imitate_command(*args), cwd=workdir, env=imitate_env(uri),
                               start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if any(int(p.stem.split("=")[1]) >= 3 for p in checkpoints.glob("step=*.ckpt")):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.1)
    process.kill()
    pytest.fail("the sweep cell finished (or timed out) before a checkpoint could be interrupted")


def test_rerun_resumes_the_killed_cell_in_its_own_run(tmp_path) -> None:
    uri = mlflow_uri(tmp_path)
    first_dir, second_dir = tmp_path / "sweep1", tmp_path / "sweep2"
    kill_after_a_checkpoint(sweep_args(first_dir), tmp_path, uri, first_dir / "0" / "checkpoints")

    rerun = run_imitate(sweep_args(second_dir), cwd=tmp_path, uri=uri, timeout_s=600)
    assert f"resuming from {first_dir / '0' / 'checkpoints'}" in rerun.stdout + rerun.stderr

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("resume_test")
    children = client.search_runs(
        [experiment.experiment_id], f"tags.{cells.TAG_ROLE} = '{cells.ROLE_IMITATION}'"
    )
    assert len(children) == 1  # the killed run was continued, not duplicated
    child = children[0]
    assert child.info.status == "FINISHED"
    steps = {m.step for m in client.get_metric_history(child.info.run_id, metrics.TRAIN_LOSS)}
    assert steps >= set(range(3, STEPS))  # the curve continues to the end in the same run
