"""Chunking into fixed blocks loses and duplicates nothing; budgets are exact and nested."""

from __future__ import annotations

import numpy as np
import pytest

from imitate.data.format import IGNORE_INDEX
from imitate.data.pack import TokenStream, pack_blocks, unpack_blocks


def conversations(count: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    rng = np.random.default_rng(seed)
    encoded = []
    for _ in range(count):
        length = int(rng.integers(1, 300))
        ids = rng.integers(5, 1000, length).tolist()
        labels = [t if rng.random() < 0.5 else IGNORE_INDEX for t in ids]
        encoded.append((ids, labels))
    return encoded


@pytest.mark.parametrize("block_size", [2, 7, 64, 2048])
def test_blocks_concatenate_back_to_the_stream(block_size: int) -> None:
    stream = TokenStream()
    data = conversations(50)
    stream.extend(data)
    ids, labels = stream.arrays()
    assert ids.tolist() == [t for c in data for t in c[0]]
    blocks, block_labels, lengths = pack_blocks(ids, labels, block_size, pad_id=0)
    assert blocks.shape[1] == block_size
    back_ids, back_labels = unpack_blocks(blocks, block_labels, lengths)
    np.testing.assert_array_equal(back_ids, ids)
    np.testing.assert_array_equal(back_labels, labels)
    assert (block_labels.reshape(-1)[len(ids) :] == IGNORE_INDEX).all()  # padding never supervised


def test_budget_is_exact_and_smaller_budgets_are_prefixes() -> None:
    data = conversations(80, seed=1)
    streams = {}
    for budget in (300, 1000, 3000):
        stream = TokenStream(max_tokens=budget)
        stream.extend(data)
        streams[budget] = stream.arrays()[0]
        assert len(streams[budget]) == budget
    np.testing.assert_array_equal(streams[1000][:300], streams[300])
    np.testing.assert_array_equal(streams[3000][:1000], streams[1000])


def test_block_size_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="block_size"):
        pack_blocks(np.zeros(4, np.int32), np.zeros(4, np.int32), 1, pad_id=0)
