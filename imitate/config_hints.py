"""After Hydra refuses a command line, name the valid keys next to any unknown one it contained.

Hydra's own error for ``data.blok_size=3`` says only that the key is not in the struct; a
researcher wants to see ``block_size`` among the valid keys of ``data``.
"""

from __future__ import annotations

import difflib

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf


def unknown_key_hints(
    overrides: list[str], config_module: str = "imitate.conf", config_name: str = "train"
) -> list[str]:
    """One message per ``a.b=value`` override whose key does not exist in the composed config."""
    assignments = [o for o in overrides if "=" in o and not o.startswith(("+", "~", "hydra", "-"))]
    group_choices = [o for o in assignments if "." not in o.split("=", 1)[0]]
    try:
        with initialize_config_module(config_module=config_module, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=group_choices)
    except (
        Exception
    ):  # the group choices themselves are wrong: Hydra's message already lists options
        return []
    hints = []
    for assignment in assignments:
        key = assignment.split("=", 1)[0]
        if "." in key and not _has_key(cfg, key):
            hints.append(_hint(cfg, key))
    return hints


def _has_key(cfg: DictConfig, dotted: str) -> bool:
    parent, _, leaf = dotted.rpartition(".")
    node = OmegaConf.select(cfg, parent, throw_on_missing=False) if parent else cfg
    return isinstance(node, DictConfig) and leaf in node


def _hint(cfg: DictConfig, dotted: str) -> str:
    parts = dotted.split(".")
    node, known = cfg, []
    for part in parts[:-1]:  # walk down as far as the path exists
        if not isinstance(node, DictConfig) or part not in node:
            break
        node, known = node[part], [*known, part]
    where = ".".join(known) or "the root config"
    valid = sorted(node.keys()) if isinstance(node, DictConfig) else []
    missing = parts[len(known)]
    close = difflib.get_close_matches(missing, valid, n=1)
    suggestion = f" Did you mean '{'.'.join([*known, close[0]])}'?" if close else ""
    return f"Unknown key '{dotted}': '{missing}' is not in {where}. Valid keys there: {', '.join(valid)}.{suggestion}"
