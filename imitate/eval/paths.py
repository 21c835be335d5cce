"""Where eval data lives: config paths are relative to the working directory or the repo root."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The team's benchmark copies sit in a `shared` folder beside the repo; the env var overrides it.
SHARED_DATA = Path(os.environ.get("IMITATE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def resolve_data_path(path: str | os.PathLike, *, what: str) -> Path:
    """An existing path: as given, else relative to the repo root (so `../shared/data/...` works anywhere)."""
    given = Path(os.path.expandvars(str(path))).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, REPO_ROOT / given]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"{what}={str(path)!r} not found (tried {tried}); set it to an existing path, "
        f"or set IMITATE_SHARED_DATA to the folder holding the shared benchmark data"
    )
