"""Every near-duplicate pair (Jaccard >= threshold) between records of different groups, exactly.

MinHash-LSH caps the pairs it proposes inside a large bucket (a templated set puts thousands of
records in one), so near dedup can leave two of its clusters apart although a pair across them
passes the threshold; a split that keeps clusters whole would then leak that pair. Here the pairs
come from a set-similarity join with prefix filtering (Bayardo, Ma & Srikant 2007): with tokens
ordered rarest first, two sets with Jaccard >= t share a token among the first
|x| - ceil(t |x|) + 1 of each, so candidates sharing a prefix token include every such pair; each
candidate in different groups is then verified on the true sets.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from curata.dedup.shingles import Shingles
from curata.dedup.verify import jaccard_pairs, shingle_sets

BLOCK_ROWS = 1024


def prefix_matrix(sets: Shingles, threshold: float, valid: np.ndarray) -> csr_matrix:
    """Rows x distinct shingles, 1 where the shingle is in the row's prefix (rarest first)."""
    n = sets.n_records
    sizes = sets.counts()
    _, column = np.unique(sets.hashes, return_inverse=True)
    column = column.ravel()
    owner = np.repeat(np.arange(n, dtype=np.int64), sizes)
    frequency = np.bincount(column)
    order = np.lexsort((column, frequency[column], owner))
    position = np.arange(len(order)) - sets.offsets[owner[order]]
    length = sizes - np.ceil(threshold * sizes - 1e-9).astype(np.int64) + 1
    length = np.where(valid, np.clip(length, 0, sizes), 0)
    keep = order[position < length[owner[order]]]
    data = np.ones(len(keep), dtype=np.float32)
    return csr_matrix((data, (owner[keep], column[keep])), shape=(n, len(frequency)))


def near_pairs_across(
    shingles: Shingles, groups: np.ndarray, threshold: float, min_shingles: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Verified pairs (low row, high row) in different groups, and how many candidates were checked.

    Rows with fewer than `min_shingles` shingles are left out, as near dedup leaves them out.
    """
    sets = shingle_sets(shingles)
    n = sets.n_records
    prefixes = prefix_matrix(sets, threshold, shingles.counts() >= min_shingles)
    transposed = prefixes.T.tocsr()
    lefts, rights = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    checked = 0
    for start in range(0, n, BLOCK_ROWS):
        shared = (prefixes[start : start + BLOCK_ROWS] @ transposed).tocoo()
        left = shared.row.astype(np.int64) + start
        right = shared.col.astype(np.int64)
        open_pairs = (left < right) & (groups[left] != groups[right])
        left, right = left[open_pairs], right[open_pairs]
        checked += len(left)
        if len(left):
            passing = jaccard_pairs(sets, left, right) >= threshold
            lefts.append(left[passing])
            rights.append(right[passing])
    return np.concatenate(lefts), np.concatenate(rights), checked
