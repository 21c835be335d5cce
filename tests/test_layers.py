"""Imports point one way: down the layer order written in README's Layout section.

The order is read from README, so the documentation and the check cannot drift apart. Imports are
collected with ``ast`` from every statement, function-level ones included; eval tasks in upper
packages are reached through Hydra ``_target_`` strings, which are not imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

LAYERS_MARKER = "Import layers, lowest first"


def layer_order(readme: Path) -> dict[str, int]:
    """``{unit: layer index}`` from the first line after the marker that lists layers: `a b` → `c` → ..."""
    lines = readme.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(LAYERS_MARKER)), None)
    if start is None:
        raise AssertionError(f"{readme}: no line starting with {LAYERS_MARKER!r}")
    order_line = next((line for line in lines[start:] if "` → `" in line), None)
    if order_line is None:
        raise AssertionError(f"{readme}: no `a b` → `c` layer line after {LAYERS_MARKER!r}")
    layers = [layer.replace("`", "").split() for layer in order_line.split("→")]
    return {unit: index for index, layer in enumerate(layers) for unit in layer}


def unit_of(module: str) -> str:
    """``imitate.judge.pairwise`` → ``judge``; ``imitate.train`` → ``train``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported_modules(path: Path, package_root: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for each import of the project's own code in ``path``."""
    own_module = ".".join(path.relative_to(package_root.parent).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = own_module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            # ``from imitate import metrics`` imports the module imitate.metrics
            found += [(node.lineno, f"{base}.{alias.name}" if base == package_root.name else base)
                      for alias in node.names]  # fmt: skip
    return [(line, module) for line, module in found if module.startswith(package_root.name + ".")]


def upward_imports(package_root: Path, order: dict[str, int]) -> list[str]:
    """Every import that does not point to a lower layer, and every unit the order leaves out."""
    problems = []
    for path in sorted(package_root.rglob("*.py")):
        own = unit_of(".".join(path.relative_to(package_root.parent).with_suffix("").parts))
        if own == "__init__":
            continue  # the package's own __init__ holds only its version
        if own not in order:
            problems.append(f"{path}: {own!r} is in no layer; add it to README's layer line")
            continue
        for line, module in imported_modules(path, package_root):
            target = unit_of(module)
            if target != own and order.get(target, len(order)) >= order[own]:
                problems.append(f"{path}:{line}: {own} imports {module} (not a lower layer)")
    return problems


def test_imports_point_down_the_readme_layer_order() -> None:
    problems = upward_imports(REPO / "imitate", layer_order(REPO / "README.md"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "from imitate.judge.pairwise import Pair\n",  # upward
        "def f():\n    import imitate.report.html\n",  # upward, inside a function
        "from imitate import llm\n",  # same layer as model
        "from ..style import prompt_sets\n",  # relative, upward
    ],
)
def test_an_upward_import_is_caught(tmp_path, source: str) -> None:
    package = tmp_path / "imitate"
    (package / "model").mkdir(parents=True)
    (package / "model" / "bad.py").write_text(source)
    order = {"data": 0, "model": 1, "llm": 1, "style": 2, "judge": 3, "report": 4}
    assert len(upward_imports(package, order)) == 1


def test_a_downward_import_passes_and_an_unplaced_unit_is_named(tmp_path) -> None:
    package = tmp_path / "imitate"
    (package / "model").mkdir(parents=True)
    (package / "model" / "ok.py").write_text("from imitate.data import pack\nfrom . import loss\n")
    (package / "newpkg").mkdir()
    (package / "newpkg" / "x.py").write_text("")
    problems = upward_imports(package, {"data": 0, "model": 1})
    assert len(problems) == 1 and "'newpkg' is in no layer" in problems[0]
