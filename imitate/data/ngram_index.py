"""Sparse n-gram features that give sacrebleu's sentence-BLEU statistics for many pairs at once.

Each text is tokenised exactly as ``sacrebleu.sentence_bleu`` does (13a, case kept, right-stripped).
For each order n = 1..4, a text becomes a binary row over *occurrence features* ``(ngram, k)``:
the k-th occurrence of that n-gram. Two rows then share ``min(count_a, count_b)`` features per
n-gram, so a sparse dot product is exactly BLEU's clipped match count for that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

MAX_ORDER = 4


@dataclass
class NgramIndex:
    """Texts as per-order occurrence-feature rows, with the lengths BLEU needs."""

    texts: list[str]
    lengths: np.ndarray  # tokens per text: BLEU's sys_len / ref_len
    features: list[sp.csr_matrix]  # one (texts x features) binary matrix per order 1..4

    @property
    def totals(self) -> np.ndarray:
        """(texts, 4) n-gram counts per order: BLEU's ``total`` when the text is the hypothesis."""
        orders = np.arange(1, MAX_ORDER + 1)
        return np.maximum(self.lengths[:, None] - orders[None, :] + 1, 0)

    def __len__(self) -> int:
        return len(self.texts)


def build_index(texts: list[str]) -> NgramIndex:
    """Tokenise ``texts`` as sacrebleu does and build their occurrence features."""
    tokenise = Tokenizer13a()
    token_lists = [tokenise(text.rstrip()).split() for text in texts]
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(texts))
    vocabulary: dict[str, int] = {}
    flat = np.fromiter(
        (vocabulary.setdefault(tok, len(vocabulary)) for toks in token_lists for tok in toks),
        dtype=np.int64,
        count=int(lengths.sum()),
    )
    starts = np.concatenate([[0], np.cumsum(lengths)])
    row_of_position = np.repeat(np.arange(len(texts)), lengths)
    features = []
    ngram_ids = flat
    for order in range(1, MAX_ORDER + 1):
        if order > 1:
            ngram_ids = _extend_ngram_ids(ngram_ids, flat, order, max(len(vocabulary), 1))
        rows = row_of_position[: len(ngram_ids)]
        # An n-gram starting near a text's end would run into the next text: not an n-gram.
        valid = np.arange(len(ngram_ids)) + order <= starts[rows + 1]
        features.append(_occurrence_matrix(rows[valid], ngram_ids[valid], len(texts)))
    return NgramIndex(texts=list(texts), lengths=lengths, features=features)


def _extend_ngram_ids(
    prev_ids: np.ndarray, flat: np.ndarray, order: int, vocab_size: int
) -> np.ndarray:
    """Ids of the n-grams starting at each position, from the (n-1)-gram ids and the next token.

    Positions whose n-gram would cross into the next text get ids too; the caller masks them out.
    """
    if len(flat) < order:
        return np.zeros(0, dtype=np.int64)
    keys = prev_ids[: len(flat) - order + 1] * vocab_size + flat[order - 1 :]
    _, ids = np.unique(keys, return_inverse=True)
    return ids.astype(np.int64)


def _occurrence_matrix(rows: np.ndarray, ngram_ids: np.ndarray, n_rows: int) -> sp.csr_matrix:
    """Binary (rows x (ngram, k-th occurrence)) matrix, so dot products count clipped matches."""
    if len(rows) == 0:
        return sp.csr_matrix((n_rows, 0), dtype=np.float32)
    order = np.lexsort((ngram_ids, rows))
    rows, ngram_ids = rows[order], ngram_ids[order]
    group_start = np.ones(len(rows), dtype=bool)
    group_start[1:] = (rows[1:] != rows[:-1]) | (ngram_ids[1:] != ngram_ids[:-1])
    start_positions = np.flatnonzero(group_start)
    occurrence = np.arange(len(rows)) - np.repeat(
        start_positions, np.diff(np.append(start_positions, len(rows)))
    )
    _, columns = np.unique(ngram_ids * (occurrence.max() + 1) + occurrence, return_inverse=True)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, columns)), shape=(n_rows, int(columns.max()) + 1))


def pair_match_counts(
    index: NgramIndex, hyp_rows: np.ndarray, ref_rows: np.ndarray, orders=range(MAX_ORDER)
) -> np.ndarray:
    """(pairs, 4) exact clipped n-gram matches between ``hyp_rows[i]`` and ``ref_rows[i]``.

    Only the 0-based ``orders`` asked for are counted; the others stay 0.
    """
    counts = np.zeros((len(hyp_rows), MAX_ORDER), dtype=np.int64)
    for order in orders:
        matrix = index.features[order]
        products = matrix[hyp_rows].multiply(matrix[ref_rows])
        counts[:, order] = np.asarray(products.sum(axis=1)).ravel().round().astype(np.int64)
    return counts


def bleu_from_stats(
    correct: np.ndarray, total: np.ndarray, hyp_len: np.ndarray, ref_len: np.ndarray
) -> np.ndarray:
    """Vectorised ``sacrebleu.BLEU.compute_bleu`` with sentence_bleu's settings.

    Those settings are exp smoothing and effective order; the arithmetic follows sacrebleu's
    step for step so results agree to float rounding (tested against ``sentence_bleu``).
    """
    hyp_len = hyp_len.astype(np.float64)
    ref_len = ref_len.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        penalty = np.where(hyp_len < ref_len, np.exp(1 - ref_len / hyp_len), 1.0)
        penalty = np.where(hyp_len > 0, penalty, 0.0)
        log_sum = np.zeros(len(correct))
        smooth = np.ones(len(correct))
        for n in range(MAX_ORDER):
            present = total[:, n] > 0
            missed = present & (correct[:, n] == 0)
            smooth = np.where(missed, smooth * 2, smooth)
            precision = np.where(
                missed, 100.0 / (smooth * total[:, n]), 100.0 * correct[:, n] / total[:, n]
            )
            log_sum = log_sum + np.where(present, np.log(precision), 0.0)
        effective_order = np.clip(hyp_len, 1, MAX_ORDER)
        score = penalty * np.exp(log_sum / effective_order)
    return np.where(correct.sum(axis=1) > 0, score, 0.0)


def pair_bleu(index: NgramIndex, hyp_rows: np.ndarray, ref_rows: np.ndarray) -> np.ndarray:
    """Exact sentence BLEU of text ``hyp_rows[i]`` against the single reference ``ref_rows[i]``."""
    correct = pair_match_counts(index, hyp_rows, ref_rows)
    return bleu_from_stats(
        correct, index.totals[hyp_rows], index.lengths[hyp_rows], index.lengths[ref_rows]
    )
