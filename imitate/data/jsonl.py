"""The one JSONL reader: values line by line, with an explicit policy for lines that are not JSON.

Callers choose: a bad line raises (eval sets, prompt files: a broken benchmark must not shrink
silently), or the caller passes ``on_bad_line`` and counts each skipped line (training sources,
where one bad line in millions is a counted drop).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from imitate.data.paths import is_hub_id, resolve_data_path

BadLine = Callable[[str, str], None]  # (path:line, what is wrong) -> None; the line is skipped


def read_jsonl(
    path: str | os.PathLike, *, on_bad_line: BadLine | None = None
) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` per non-blank line of a ``.jsonl`` (or ``.jsonl.gz``) file.

    A line that is not JSON raises ``ValueError`` naming ``path:line``, unless ``on_bad_line`` is
    given: then it is called with ``path:line`` and the decoder's message, and the line skipped.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as err:
                if on_bad_line is None:
                    raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from None
                on_bad_line(f"{path}:{number}", err.msg)
                continue
            yield number, value


def load_records(source: str, *, split: str = "validation", what: str) -> list:
    """Records of a local JSONL file (found by ``resolve_data_path``), else of an HF datasets id."""
    try:
        path = resolve_data_path(source, what=what)
    except FileNotFoundError as missing:
        if not is_hub_id(str(source)):
            raise
        try:
            import datasets

            return list(datasets.load_dataset(str(source), split=split))
        except Exception as err:  # noqa: BLE001 - report both ways we tried
            raise FileNotFoundError(
                f"{missing}; as an HF datasets id it failed too: {err}"
            ) from err
    return [value for _, value in read_jsonl(path)]
