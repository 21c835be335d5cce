"""Compose-time schemas: each config node that the code turns into a dataclass is typed by it.

``register()`` stores them in Hydra's ConfigStore as ``train_schema``, which train.yaml lists
first in its defaults, so every YAML file and override merged after it lands in typed nodes: a
key the dataclass lacks (``optim.warmup_step``) or a value of the wrong type (``optim.lr=abc``)
fails while Hydra composes, before any data is read, for single runs, every multirun job,
``imitate.plan`` and the tests alike. Only these nodes are typed; the root, the rest of
``data`` and every other group stay open, so new groups and top-level keys compose as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from imitate.config_hints import unknown_key_hint
from imitate.data.clean import CleanConfig
from imitate.data.format import ChatFormat
from imitate.data.leakage import LeakageConfig
from imitate.data.overlap import DiversityConfig
from imitate.data.source_formats import SourceConfig
from imitate.model.adapters import AdapterConfig
from imitate.model.checkpoints import CheckpointConfig
from imitate.model.optim import OptimConfig
from imitate.model.parallel import ParallelConfig

SCHEMA_NAME = "train_schema"


@dataclass
class LossConfig:
    """``loss:`` in train.yaml (train.py reads it key by key, so it has no dataclass of its own)."""

    supervised_logits_only: bool = MISSING


@dataclass
class BatchConfig:
    """``batch:`` in train.yaml: the global batch in sequences and the micro-batch per device."""

    global_size: int = MISSING
    micro_size: int = MISSING


# Dotted config path -> the dataclass its values are passed to (a dict type: one per entry).
SCHEMAS: dict[str, Any] = {
    "data.sources": dict[str, SourceConfig],
    "data.chat_format": ChatFormat,
    "data.clean": CleanConfig,
    "data.leakage": LeakageConfig,
    "data.diversity": DiversityConfig,
    "optim": OptimConfig,
    "loss": LossConfig,
    "batch": BatchConfig,
    "parallel": ParallelConfig,
    "checkpoint": CheckpointConfig,
    "adapter": AdapterConfig,
}


def register() -> None:
    """Store ``train_schema`` in Hydra's ConfigStore (idempotent: storing again replaces it)."""
    ConfigStore.instance().store(name=SCHEMA_NAME, node=schema_tree())


def schema_tree() -> DictConfig:
    """An open tree holding one typed node per entry of ``SCHEMAS``."""
    tree = OmegaConf.create({})
    for path, schema in SCHEMAS.items():
        *parents, leaf = path.split(".")
        node = tree
        for parent in parents:
            if parent not in node:
                node[parent] = {}
            node = node[parent]
        node[leaf] = _typed_node(schema)
    return tree


def _typed_node(schema: Any) -> DictConfig:
    if getattr(schema, "__origin__", None) is dict:
        key_type, element_type = schema.__args__
        return DictConfig({}, key_type=key_type, element_type=element_type)
    node = OmegaConf.structured(schema)
    _writable(node)
    node._set_flag("struct", True)  # stays closed when Hydra opens the root for `+new_key=...`
    return node


def _writable(node: DictConfig | ListConfig) -> None:
    """Frozen dataclasses make read-only nodes, which later YAML files could not set."""
    node._set_flag("readonly", None)
    if isinstance(node, DictConfig) and not (node._is_none() or node._is_missing()):
        for key in node:
            child = node._get_node(key)
            if isinstance(child, (DictConfig, ListConfig)):
                _writable(child)


def check_values(cfg: DictConfig) -> None:
    """Refuse what compose lets through: keys forced in with ``+``/``++``, and bad choices.

    Hydra's ``+optim.new_key=1`` inserts even into a typed node, and choices such as
    ``optim.schedule`` are checked by the dataclass itself, which train.py would otherwise first
    build after data preparation. Building each dataclass once here runs those checks up front.
    """
    for path in SCHEMAS:
        node = OmegaConf.select(cfg, path)
        if node is None:
            continue
        _refuse_unknown_keys(node, path)
        try:
            OmegaConf.to_object(node)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err


def _refuse_unknown_keys(node: DictConfig, path: str) -> None:
    """Every key of a dataclass-typed node must be one of its fields, recursively."""
    schema = node._metadata.object_type
    valid = (
        [f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema) else None
    )
    for key in map(str, node):
        where = f"{path}.{key}"
        if valid is not None and key not in valid:
            raise ValueError(unknown_key_hint(where, valid, schema.__name__))
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not (child._is_none() or child._is_missing()):
            _refuse_unknown_keys(child, where)
