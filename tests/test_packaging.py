"""The installed package must contain every subpackage and the config tree."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_pyproject_lists_every_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "imitate").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert "imitate.conf" in listed


def test_configs_are_importable_as_package_resources() -> None:
    from importlib import resources

    assert resources.files("imitate.conf").joinpath("train.yaml").is_file()
