"""Checkpoint housekeeping: which checkpoint resume=auto picks, and the free-disk check."""

from __future__ import annotations

import os
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from imitate.model import checkpoints
from imitate.model.checkpoints import CheckpointConfig, newest_complete, resume_point

DiskUsage = namedtuple("DiskUsage", "total used free")


def _file_checkpoint(path: Path) -> Path:
    torch.save({"imitate_mlflow_run_id": "run-" + path.stem}, path)  # a zip, as Lightning's are
    return path


def _sharded_checkpoint(path: Path, complete: bool) -> Path:
    path.mkdir()
    (path / ".metadata").write_bytes(b"index")
    if complete:  # Lightning's meta.pt is written last, by rank 0
        torch.save({"imitate_mlflow_run_id": "run-sharded"}, path / "meta.pt")
    return path


def test_resume_auto_takes_the_highest_complete_step_and_its_mlflow_run(tmp_path) -> None:
    _file_checkpoint(tmp_path / "step=2.ckpt")
    _file_checkpoint(tmp_path / "step=10.ckpt")  # numeric order, not text order
    later = _file_checkpoint(tmp_path / "step=10-v1.ckpt")  # Lightning's name: a step saved again
    os.utime(later, ns=(later.stat().st_atime_ns, later.stat().st_mtime_ns + 10**9))
    _sharded_checkpoint(tmp_path / "step=12.ckpt", complete=False)  # killed while saving
    (tmp_path / "step=11.ckpt").write_bytes(b"PK\x03\x04 truncated")
    point = resume_point(CheckpointConfig(dir=str(tmp_path)), "auto")
    assert Path(point.path).name == "step=10-v1.ckpt"
    assert point.mlflow_run_id == "run-step=10-v1"


def test_files_not_named_by_step_are_reported_and_ignored(tmp_path, caplog) -> None:
    _file_checkpoint(tmp_path / "step=3.ckpt")
    _file_checkpoint(tmp_path / "step=best.ckpt")
    assert newest_complete(tmp_path).name == "step=3.ckpt"
    assert "ignoring 1 file(s) not named step=N.ckpt" in caplog.text
    assert "step=best.ckpt" in caplog.text


def test_a_complete_sharded_folder_wins_over_older_files(tmp_path) -> None:
    _file_checkpoint(tmp_path / "step=3.ckpt")
    _sharded_checkpoint(tmp_path / "step=4.ckpt", complete=True)
    assert newest_complete(tmp_path).name == "step=4.ckpt"
    assert resume_point(CheckpointConfig(dir=str(tmp_path)), "auto").mlflow_run_id == "run-sharded"


def test_resume_from_an_incomplete_path_names_it_and_the_options(tmp_path) -> None:
    half = _sharded_checkpoint(tmp_path / "step=5.ckpt", complete=False)
    with pytest.raises(FileNotFoundError, match=r"step=5\.ckpt.*not a complete checkpoint.*auto"):
        resume_point(CheckpointConfig(dir=str(tmp_path)), str(half))


def test_resume_auto_without_checkpoints_starts_fresh(tmp_path) -> None:
    assert resume_point(CheckpointConfig(dir=str(tmp_path / "none")), "auto") is None


def test_a_full_disk_is_refused_before_anything_is_written(tmp_path, monkeypatch) -> None:
    out_dir = tmp_path / "run" / "model"
    monkeypatch.setattr(
        checkpoints.shutil, "disk_usage", lambda path: DiskUsage(10**12, 10**12 - 10**9, 10**9)
    )
    with pytest.raises(OSError, match=r"model needs ~5\.0 GB; only 1\.0 GB free on .*another"):
        checkpoints.require_free_disk(out_dir, needed_bytes=5 * 10**9)
    assert not out_dir.exists()
    checkpoints.require_free_disk(out_dir, needed_bytes=10**8)  # fits: the folder is made
    assert out_dir.is_dir()
