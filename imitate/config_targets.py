"""Check a ``_target_`` node (``llm``, ``generate``, ``candidate.llm``) against its callable.

Options of one group build different classes (``llm=gpt-4o-mini`` an ``OpenAIClient``, ``llm=hf``
``load_hf_client``), so such a node cannot be typed while Hydra composes. Once composed, and
before anything is built, its keys are bound to the target's signature (valid keys and the closest
match on a typo, as torchtune's ``_component_`` check does), required arguments must be set, and
each value must fit the parameter's annotation where OmegaConf can check it (int, float, bool,
str, optionally None).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Optional

from hydra.utils import get_object
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from imitate.config_hints import unknown_key_hint

_CHECKED_TYPES = (int, float, bool, str)


@dataclass(frozen=True)
class Target:
    """Marks a ``_target_`` node in a ``SchemaSet``; ``call_time``: kwargs the code passes itself."""

    call_time: tuple[str, ...] = ()


def check_target(node: DictConfig, path: str, target: Target) -> None:
    """Raise ValueError naming the key, the target and what is valid, before it is built."""
    if "_target_" not in node:
        raise ValueError(f"{path} has no _target_: an option of conf/{path.split('.')[0]}/ sets it")
    name = str(node._target_)
    try:
        factory = get_object(name)
    except Exception as error:  # Hydra's ImportError/AttributeError wrappers
        raise ValueError(f"{path}._target_={name}: cannot be imported ({error})") from error
    parameters = signature_parameters(factory, target.call_time)
    keys = [str(k) for k in node if not str(k).startswith("_")]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for key in keys:
        if key not in parameters and not takes_any:
            raise ValueError(unknown_key_hint(f"{path}.{key}", list(parameters), name))
    for key, parameter in parameters.items():
        required = parameter.default is inspect.Parameter.empty
        if required and parameter.kind not in _VARIADIC and key not in keys:
            raise ValueError(f"{path}.{key} is required by {name} and not set")
        if key in keys and OmegaConf.is_missing(node, key):
            raise ValueError(f"{path}.{key} is required (???): set {path}.{key}=<value>")
    _check_types(node, path, name, factory, parameters, keys)


_VARIADIC = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)


def signature_parameters(factory: Any, call_time: tuple[str, ...] = ()) -> dict[str, Any]:
    """The parameters a config may set: the signature minus ``self`` and call-time kwargs."""
    signature = inspect.signature(factory)
    return {
        name: p
        for name, p in signature.parameters.items()
        if name not in call_time and p.kind is not inspect.Parameter.VAR_POSITIONAL
    }


def checkable_type(annotation: Any) -> Any:
    """int/float/bool/str (or Optional of one) as OmegaConf types it; None where it cannot."""
    if annotation in _CHECKED_TYPES:
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1 and members[0] in _CHECKED_TYPES:
            return Optional[members[0]]  # noqa: UP045  # OmegaConf 2.3 reads typing.Optional
    return None


def _check_types(node, path: str, name: str, factory, parameters, keys: list[str]) -> None:
    hints = _type_hints(factory)
    for key in keys:
        expected = checkable_type(hints.get(key))
        if expected is None or OmegaConf.is_missing(node, key):
            continue
        try:
            value = node[key]  # resolved: `${oc.env:...}` and `${model.x}` give their values
        except OmegaConfBaseException:
            continue  # an interpolation that resolves only at run time (Hydra's runtime dir)
        try:
            OmegaConf.structured(_one_field(key, expected))[key] = value
        except OmegaConfBaseException:
            shown = getattr(expected, "__name__", None) or str(expected).replace("typing.", "")
            raise ValueError(f"{path}.{key} takes {shown} ({name}); got {value!r}") from None


def _one_field(key: str, expected: Any) -> type:
    """A one-field dataclass: OmegaConf checks (and converts) a value assigned to its field."""
    return dataclasses.make_dataclass(
        "Field", [(key, expected, dataclasses.field(default=MISSING))]
    )


def _type_hints(factory: Any) -> dict[str, Any]:
    function = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(function)
    except Exception:  # a forward reference to a name only imported under TYPE_CHECKING
        return {}
