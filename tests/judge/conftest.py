"""Judge tests share one MLflow store per module (creating a SQLite store takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One MLflow store for the module (creating a SQLite store takes seconds); a experiment per test."""
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture
def tmp_path(store: Path, request) -> Path:
    """The shared store's folder, and this test's own experiment name via the folder name."""
    folder = store / request.node.name.replace("[", "_").replace("]", "")
    folder.mkdir()
    return folder
