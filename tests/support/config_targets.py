"""Every `_target_` node of a composed config bound to its callable's signature (the config tests)."""

from __future__ import annotations

import inspect

from hydra.utils import get_object

# kwargs the code passes at call time, so the YAML legitimately leaves them out
CALL_TIME_KWARGS = {
    "logger",
    "callbacks",
    "default_root_dir",
    "micro_batch_size",
    "seed",
    "strategy",
    "plugins",
}


def targets(node, where: str):
    if isinstance(node, dict):
        if "_target_" in node:
            yield where, node
        for key, value in node.items():
            yield from targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from targets(value, f"{where}[{index}]")


def bind(where: str, node: dict) -> None:
    target = get_object(node["_target_"])
    kwargs = {k: v for k, v in node.items() if not k.startswith("_") and k not in CALL_TIME_KWARGS}
    signature = inspect.signature(target)
    try:
        signature.bind_partial(**kwargs)
    except TypeError as err:
        raise AssertionError(
            f"{where}: {node['_target_']} does not accept {sorted(kwargs)}: {err}"
        ) from err
