"""Where data is: one resolver for every data path a config names (training sources, eval sets).

A relative path is looked for, in this order: relative to the working directory; under
``$IMITATE_SHARED_DATA``; under ``../shared/data`` relative to the working directory (the shared
folder the configs default to, ``${oc.env:IMITATE_SHARED_DATA,../shared/data}``). A path written
as ``../shared/data/x`` is also looked for as ``x`` under ``$IMITATE_SHARED_DATA``. Nothing
depends on where imitate itself is installed, so a non-editable install finds the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA_ENV = "IMITATE_SHARED_DATA"
DEFAULT_SHARED_DATA = Path("..", "shared", "data")  # relative to the working directory


def shared_data_dir() -> Path:
    """The shared data folder: ``$IMITATE_SHARED_DATA``, else ``../shared/data`` from the cwd."""
    env = os.environ.get(SHARED_DATA_ENV)
    return Path(env).expanduser() if env else Path.cwd() / DEFAULT_SHARED_DATA


def candidate_paths(path: str | os.PathLike) -> list[Path]:
    """Where ``path`` is looked for, in order (see the module docstring)."""
    given = Path(os.path.expandvars(str(path))).expanduser()
    if given.is_absolute():
        return [given]
    inside_shared = _relative_to_default_shared(given)
    candidates = [Path.cwd() / given]
    if os.environ.get(SHARED_DATA_ENV):
        candidates.append(Path(os.environ[SHARED_DATA_ENV]).expanduser() / inside_shared)
    candidates.append(Path.cwd() / DEFAULT_SHARED_DATA / inside_shared)
    return list(dict.fromkeys(candidates))


def resolve_data_path(path: str | os.PathLike, *, what: str) -> Path:
    """The first existing candidate for ``path``; else an error naming ``what`` and every place tried."""
    candidates = candidate_paths(path)
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"{what}: {path} does not exist (looked in: {tried}); set it to an existing path, or set "
        f"{SHARED_DATA_ENV} to the folder holding the shared data"
    )


def is_hub_id(source: str) -> bool:
    """Whether ``source`` reads as an HF hub id (``owner/name``) rather than a local path."""
    return "/" in source and not source.startswith((".", "/", "~"))


def _relative_to_default_shared(path: Path) -> Path:
    parts, prefix = path.parts, DEFAULT_SHARED_DATA.parts
    return Path(*parts[len(prefix) :]) if parts[: len(prefix)] == prefix else path
