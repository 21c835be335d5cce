"""Every benchmark script imports (its main is not run): a renamed module fails here, not in `nox -s bench`."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_bench_script_imports(script) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # runs the imports and definitions; main() is behind __main__
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
