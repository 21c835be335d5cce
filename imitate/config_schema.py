"""Compose-time schemas: each config node that the code turns into a dataclass is typed by it.

One ``SchemaSet`` per root config (train, evaluate, generate, judging): ``register()`` stores each
in Hydra's ConfigStore as ``<root>_schema``, which the root YAML lists first in its defaults, so
every YAML file and override merged after it lands in typed nodes: a key the dataclass lacks
(``optim.warmup_step``) or a value of the wrong type (``optim.lr=abc``) fails while Hydra
composes, before any data is read, for single runs, every multirun job, ``imitate.plan`` and the
tests alike. ``check_values`` (the first call of every entry point) then refuses what compose
lets through: keys forced in with ``+``, keys of ``_target_`` nodes (``llm``, ``generate``) their
callable does not take, unknown top-level keys of a closed root, and a secret pasted where a
variable name belongs. Adding a schema for a new group is one entry in its set's ``nodes``.

The schema node also carries the one ``hydra.callbacks.redact_secrets`` every root shares
(imitate/tracking/hydra_output.py), so no entry point writes Hydra's files with a secret in them.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from imitate.config_hints import unknown_key_hint
from imitate.config_targets import Target, check_target
from imitate.data.clean import CleanConfig
from imitate.data.format import ChatFormat
from imitate.data.leakage import LeakageConfig
from imitate.data.overlap import DiversityConfig
from imitate.data.source_formats import SourceConfig
from imitate.model.adapters import AdapterConfig
from imitate.model.checkpoints import CheckpointConfig
from imitate.model.optim import OptimConfig
from imitate.model.parallel import ParallelConfig
from imitate.model.progress import ProgressConfig
from imitate.redact import add_console_secrets, is_pasted_secret, secret_values

SCHEMA_NAME = "train_schema"
Result = TypeVar("Result")
REDACT_CALLBACK = {"_target_": "imitate.tracking.hydra_output.RedactHydraOutput"}


@dataclass
class LossConfig:
    """``loss:`` in train.yaml (train.py reads it key by key, so it has no dataclass of its own)."""

    supervised_logits_only: bool = MISSING


@dataclass
class BatchConfig:
    """``batch:`` in train.yaml: the global batch in sequences and the micro-batch per device."""

    global_size: int = MISSING
    micro_size: int = MISSING


@dataclass(frozen=True)
class SchemaSet:
    """The typed nodes of one root config, and, for a closed root, every top-level key it may hold.

    ``nodes`` maps a dotted path to a dataclass (typed while Hydra composes), ``dict[str, <a
    dataclass>]`` (a mapping of typed entries), or ``Target()`` (a ``_target_`` node, checked
    against its callable's signature once composed). ``required`` groups must be chosen.
    """

    nodes: dict[str, Any]
    root_keys: tuple[str, ...] | None = None  # None: the root stays open
    required: tuple[str, ...] = ()


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
    "progress": ProgressConfig,
    "adapter": AdapterConfig,
}
TRAIN = SchemaSet(SCHEMAS)
EVALUATE = SchemaSet({"llm": Target()})
GENERATE = SchemaSet(
    {"llm": Target(), "generate": Target()},
    root_keys=("llm", "generate", "model", "tracking", "run_name", "cache_dir"),
    required=("llm",),
)
# Root config name -> its schema set; imitate.plan composes train.yaml, so it shares TRAIN.
SCHEMA_SETS: dict[str, SchemaSet] = {"train": TRAIN, "plan": TRAIN, "evaluate": EVALUATE}
SCHEMA_SETS["generate"] = GENERATE


def register(root: str = "train", schemas: SchemaSet | None = None) -> None:
    """Store ``<root>_schema`` in Hydra's ConfigStore (idempotent: storing again replaces it)."""
    if schemas is not None:
        SCHEMA_SETS[root] = schemas
    tree = schema_tree(SCHEMA_SETS[root].nodes)
    tree.hydra = {"callbacks": {"redact_secrets": REDACT_CALLBACK}}
    ConfigStore.instance().store(name=f"{root}_schema", node=tree)


def schema_tree(schemas: dict[str, Any] = SCHEMAS) -> DictConfig:
    """An open tree holding one typed node per dataclass entry of ``schemas``."""
    tree = OmegaConf.create({})
    for path, schema in schemas.items():
        if isinstance(schema, Target):
            continue  # options differ in their _target_: checked once composed
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
    """Frozen dataclasses make read-only nodes, which later YAML files could not set; mapping
    fields stay open under the struct flag their typed parent gets."""
    node._set_flag("readonly", None)
    if isinstance(node, DictConfig) and not (node._is_none() or node._is_missing()):
        for key in node:
            child = node._get_node(key)
            if isinstance(child, (DictConfig, ListConfig)):
                _writable(child)
            if isinstance(child, DictConfig) and _open_under_struct(child):
                child._set_flag("struct", False)


def checked_task(root: str) -> Callable[[Callable[[DictConfig], Result]], Callable]:
    """Decorate a ``@hydra.main`` task: its config's secrets leave the console, then
    ``check_values`` runs before the task reads any data (every Hydra entry point's first step).
    """

    def decorate(task: Callable[[DictConfig], Result]) -> Callable[[DictConfig], Result]:
        @functools.wraps(task)  # Hydra names the job (and its .log file) after the wrapped task
        def checked(cfg: DictConfig) -> Result:
            add_console_secrets(secret_values(OmegaConf.to_container(cfg, resolve=False)))
            check_values(cfg, root)
            return task(cfg)

        return checked

    return decorate


def _open_under_struct(node: DictConfig) -> bool:
    """A mapping field (``judge.labels``) takes any key; an unset optional dataclass field
    (``style.authoritative: null``) would pass its parent's struct flag on to the mapping fields
    it gets later, so it stays open too (``check_values`` still refuses unknown keys in it)."""
    ref_type = node._metadata.ref_type
    if typing.get_origin(ref_type) is dict:
        return True
    return (node._is_none() or node._is_missing()) and dataclasses.is_dataclass(ref_type)


def check_values(cfg: DictConfig, root: str = "train") -> None:
    """Refuse what compose lets through, before any data is read or any request sent.

    Hydra's ``+optim.new_key=1`` inserts even into a typed node, and choices such as
    ``optim.schedule`` are checked by the dataclass itself, which train.py would otherwise first
    build after data preparation. Building each dataclass once here runs those checks up front.
    """
    schemas = SCHEMA_SETS[root]
    _refuse_pasted_secrets(cfg, "")
    if schemas.root_keys is not None:
        for key in map(str, cfg):  # `hydra`: there when composed with return_hydra_config
            if key not in (*schemas.root_keys, "hydra"):
                raise ValueError(unknown_key_hint(key, list(schemas.root_keys), f"{root}.yaml"))
    for group in schemas.required:
        if cfg.get(group) is None:
            raise ValueError(f"{root}: choose a {group} option: {group}=<name> (conf/{group}/)")
    for path, schema in schemas.nodes.items():
        node = OmegaConf.select(cfg, path)
        if node is None:
            continue
        if isinstance(schema, Target):
            check_target(node, path, schema)
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


def _refuse_pasted_secrets(node: Any, path: str) -> None:
    """``api_key_env`` names a variable; a value that is no variable name is a pasted key.

    Refused without echoing it: the message would otherwise carry the secret to the console.
    """
    if not isinstance(node, DictConfig) or node._is_none() or node._is_missing():
        return
    for key in map(str, node):
        where = f"{path}.{key}" if path else key
        child = node._get_node(key)
        value = (
            None if child is None or isinstance(child, DictConfig | ListConfig) else child._value()
        )
        if isinstance(value, str) and is_pasted_secret(key, value):
            raise ValueError(
                f"{where} holds something that is not an environment variable name (a pasted "
                "key?): it is not shown here. Export the key in a variable and give its NAME, "
                f"e.g. {where}=OPENAI_API_KEY"
            )
        _refuse_pasted_secrets(child, where)
