"""Concatenate encoded conversations into one stream and cut it into fixed-length blocks.

Like EasyLM (the paper's code): no conversation boundaries are respected, a long conversation is
split across blocks, and the final partial block is padded (labels ignored) rather than dropped,
so the blocks give back the stream exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from imitate.data.format import IGNORE_INDEX


class TokenStream:
    """Growable (input_ids, labels) stream with an optional hard token budget."""

    def __init__(self, max_tokens: int | None = None) -> None:
        self.max_tokens = max_tokens
        self.pieces: list[
            tuple[np.ndarray, np.ndarray]
        ] = []  # one (ids, labels) per conversation used
        self.num_tokens = 0

    @property
    def full(self) -> bool:
        return self.max_tokens is not None and self.num_tokens >= self.max_tokens

    def extend(self, encoded: Iterable[tuple[list[int], list[int]]]) -> int:
        """Append conversations until the budget is reached; returns how many were (partly) used."""
        used = 0
        for input_ids, labels in encoded:
            if self.full:
                break
            room = len(input_ids) if self.max_tokens is None else self.max_tokens - self.num_tokens
            self.pieces.append(
                (
                    np.asarray(input_ids[:room], dtype=np.int32),
                    np.asarray(labels[:room], dtype=np.int32),
                )
            )
            self.num_tokens += min(room, len(input_ids))
            used += 1
        return used

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.pieces:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        return np.concatenate([p[0] for p in self.pieces]), np.concatenate(
            [p[1] for p in self.pieces]
        )


def pack_blocks(
    input_ids: np.ndarray, labels: np.ndarray, block_size: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the stream into ``[n_blocks, block_size]`` arrays plus each block's real length."""
    if block_size < 2:
        raise ValueError(f"data.block_size must be at least 2 tokens, got {block_size}")
    total = len(input_ids)
    n_blocks = -(-total // block_size)
    padded = n_blocks * block_size
    ids = np.full(padded, pad_id, dtype=np.int32)
    labs = np.full(padded, IGNORE_INDEX, dtype=np.int32)
    ids[:total] = input_ids
    labs[:total] = labels
    lengths = np.full(n_blocks, block_size, dtype=np.int32)
    if n_blocks and total % block_size:
        lengths[-1] = total % block_size
    return ids.reshape(n_blocks, block_size), labs.reshape(n_blocks, block_size), lengths


def unpack_blocks(
    ids: np.ndarray, labels: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_blocks`: the original stream."""
    if len(lengths) == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    keep = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    return ids[keep], labels[keep]
