"""When Hydra refuses a config, name the valid keys next to the wrong one, and the closest match.

Hydra's own message for ``optim.warmup_step`` names the key and its node; a researcher also wants
to see ``warmup_steps`` among the valid keys. Hints are built from the OmegaConf error in Hydra's
exception chain, so they cover command-line overrides and typos inside YAML files alike, for every
entry point (``run_with_hints``) and every multirun job.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
import typing
from collections.abc import Callable, Iterator
from typing import Any

from omegaconf import DictConfig
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from imitate.redact import redacted_console, secret_values
from imitate.third_party_warnings import silence_third_party_deprecations


def run_with_hints(main: Callable[[], Any]) -> None:
    """Run a ``@hydra.main`` function; if Hydra refuses the config, print hints after its error.

    The console is redacted for the whole run (imitate.redact.redacted_console): Hydra's error
    report and any traceback quote overrides and config values, secrets included.
    """
    silence_third_party_deprecations()  # library-internal notices a user cannot act on
    with redacted_console(secret_values(sys.argv[1:])):
        try:
            main()
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                _print(config_error_hints(exit_))
            raise
        except Exception as error:  # HYDRA_FULL_ERROR=1: Hydra re-raises instead of exiting
            _print(config_error_hints(error))
            raise


def config_error_hints(error: BaseException) -> list[str]:
    """One hint per OmegaConf key or type error found in ``error``'s cause/context chain."""
    hints: list[str] = []
    override = None
    for link in _chain(error):
        found = re.search(r"Error merging override (\S+)", str(link))
        override = override or (found and found.group(1))
        hint = _hint(link, override) if isinstance(link, OmegaConfBaseException) else None
        if hint and hint not in hints:
            hints.append(hint)
    return hints


def unknown_key_hint(dotted: str, valid: list[str], schema: str | None = None) -> str:
    """ "Unknown key 'a.b': 'b' is not in a. Valid keys there: ... Did you mean 'a.c'?"."""
    *known, missing = dotted.split(".")
    where = ".".join(known) or "the root config"
    if schema:
        where += f" ({schema})"
    close = difflib.get_close_matches(missing, valid, n=1)
    suggestion = f" Did you mean '{'.'.join([*known, close[0]])}'?" if close else ""
    return (
        f"Unknown key '{dotted}': '{missing}' is not in {where}. "
        f"Valid keys there: {', '.join(sorted(valid))}.{suggestion}"
    )


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        context = None if error.__suppress_context__ else error.__context__  # `from None`
        error = error.__cause__ or context


def _hint(error: OmegaConfBaseException, override: str | None) -> str | None:
    full_key = getattr(error, "full_key", None)
    parent = getattr(error, "parent_node", None)
    if isinstance(error, (ConfigKeyError, ConfigAttributeError)) and full_key:
        valid = [str(k) for k in parent] if isinstance(parent, DictConfig) else []
        return unknown_key_hint(str(full_key), valid, _schema_name(parent)) + _entry_tip(parent)
    if isinstance(error, ValidationError) and "is not a subclass of" in str(error) and override:
        return (
            f"'{override}' adds an entry to a typed mapping, which OmegaConf cannot build from "
            "a plain value: give the whole entry with '++', e.g. "
            "'++data.sources={discord: {path: /data/d.jsonl, format: fields}}', or add it in YAML."
        )
    if isinstance(error, ValidationError) and full_key and isinstance(parent, DictConfig):
        expected = _field_type(parent, str(full_key).rsplit(".", 1)[-1])
        if expected:
            value = getattr(error, "value", None)
            return f"{full_key} takes {expected} ({_schema_name(parent)}); got {value!r}."
    return None


def _schema_name(node: Any) -> str | None:
    object_type = node._metadata.object_type if isinstance(node, DictConfig) else None
    if isinstance(object_type, type) and dataclasses.is_dataclass(object_type):
        return object_type.__name__
    return None


def _field_type(node: DictConfig, key: str) -> str | None:
    object_type = node._metadata.object_type
    if not dataclasses.is_dataclass(object_type):
        return None
    hint = typing.get_type_hints(object_type).get(key)
    if hint is None:
        return None
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _entry_tip(parent: Any) -> str:
    """Entries of a typed mapping (``data.sources``) are added with ``++``, not ``+``."""
    if isinstance(parent, DictConfig) and dataclasses.is_dataclass(parent._metadata.element_type):
        return " A new entry here is given whole: '++<path>={name: {...}}' or in a YAML file."
    return ""


def _print(hints: list[str]) -> None:
    for hint in hints:
        print(hint, file=sys.stderr)
