"""One data-path resolver: as given, then the working directory, $IMITATE_SHARED_DATA, ../shared/data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import imitate
from imitate.data.paths import candidate_paths, resolve_data_path, shared_data_dir


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A working directory, a default ../shared/data beside it, and a folder $IMITATE_SHARED_DATA names."""
    cwd, default, env = tmp_path / "project", tmp_path / "shared" / "data", tmp_path / "env"
    for folder in (cwd, default, env):
        folder.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("IMITATE_SHARED_DATA", str(env))
    return cwd, default, env


def test_the_first_existing_place_wins_in_order(places):
    cwd, default, env = places
    for folder in (default, env, cwd):  # created last-first: each new one must take over
        (folder / "mmlu").mkdir()
        assert resolve_data_path("mmlu", what="mmlu task `data`") == (folder / "mmlu").resolve()


def test_a_path_written_under_the_default_shared_folder_is_also_found_under_the_env_var(places):
    _, _, env = places
    (env / "hc3").mkdir()
    assert resolve_data_path("../shared/data/hc3", what="HC3 source") == (env / "hc3").resolve()


def test_an_absolute_path_is_taken_as_given(places, tmp_path):
    assert candidate_paths(tmp_path / "x.jsonl") == [tmp_path / "x.jsonl"]
    with pytest.raises(FileNotFoundError, match=r"x.jsonl does not exist \(looked in: [^,]*\)"):
        resolve_data_path(tmp_path / "x.jsonl", what="rtp task `data`")


def test_the_error_names_what_and_every_place_tried(places):
    cwd, default, env = places
    with pytest.raises(FileNotFoundError) as error:
        resolve_data_path("nq/dev.jsonl", what="nq task `data`")
    message = str(error.value)
    assert message.startswith("nq task `data`: nq/dev.jsonl does not exist")
    for folder in (cwd, env, cwd / ".." / "shared" / "data"):
        assert str(folder / "nq" / "dev.jsonl") in message
    assert "IMITATE_SHARED_DATA" in message


def test_the_shared_folder_is_the_env_var_else_beside_the_working_directory(places, monkeypatch):
    cwd, _, env = places
    assert shared_data_dir() == env
    monkeypatch.delenv("IMITATE_SHARED_DATA")
    assert shared_data_dir() == cwd / ".." / "shared" / "data"


def test_an_installed_copy_finds_data_from_any_working_directory(tmp_path):
    """As after a non-editable install: imitate outside the repo, run from an unrelated folder."""
    site = tmp_path / "site-packages"
    shutil.copytree(
        Path(imitate.__file__).parent,
        site / "imitate",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    data, elsewhere = tmp_path / "team-data", tmp_path / "elsewhere"
    (data / "mmlu").mkdir(parents=True)
    elsewhere.mkdir()
    script = (
        "import imitate\n"
        "from hydra import compose, initialize_config_module\n"
        "from imitate.data.paths import resolve_data_path\n"
        "with initialize_config_module(config_module='imitate.conf', version_base='1.3'):\n"
        "    cfg = compose(config_name='evaluate', overrides=['eval=paper'])\n"
        "print(imitate.__file__)\n"
        "print(resolve_data_path(cfg.eval.tasks.mmlu.data, what='mmlu task `data`'))\n"
        "print(resolve_data_path('mmlu', what='mmlu task `data`'))\n"  # as a user may write it
    )
    env = {**os.environ, "PYTHONPATH": str(site), "IMITATE_SHARED_DATA": str(data)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    installed, *resolved = done.stdout.split()
    assert installed == str(site / "imitate" / "__init__.py")
    assert resolved == [str((data / "mmlu").resolve())] * 2
