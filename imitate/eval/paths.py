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


def load_records(source: str, *, split: str = "validation", what: str) -> list[dict]:
    """Records from a local .jsonl file, or from an HF datasets id when no such file exists."""
    try:
        path = resolve_data_path(source, what=what)
    except FileNotFoundError as missing:
        if "/" not in str(source) or str(source).startswith((".", "/", "~")):
            raise
        try:
            import datasets

            return list(datasets.load_dataset(str(source), split=split))
        except Exception as err:  # noqa: BLE001 - report both ways we tried
            raise FileNotFoundError(
                f"{missing}; as an HF datasets id it failed too: {err}"
            ) from err
    with open(path, encoding="utf-8") as f:
        return [_parse_line(line, path, n) for n, line in enumerate(f, start=1) if line.strip()]


def _parse_line(line: str, path: Path, number: int) -> dict:
    import json

    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{number}: not a JSON object per line ({err})") from None
