"""The project's two content hashes: request keys (full sha256) and 16-hex config hashes.

Both hash a JSON-ready value with sorted keys, so the same content gives the same key anywhere.
They differ in one JSON setting on purpose: each keeps the keys already stored valid (request
caches on disk use ``ensure_ascii=False``; config hashes tagged on MLflow runs use JSON's default
escaping, and a sweep finds its finished cells by them).
"""

from __future__ import annotations

import hashlib
import json


def stable_hash(value: object) -> str:
    """sha256 of a JSON-ready value with sorted keys: the same request gives the same key anywhere."""
    blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def short_hash(value: object) -> str:
    """16 hex digits identifying a JSON-ready value (a config, a sweep command, a task config)."""
    blob = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
