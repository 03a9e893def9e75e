"""True Jaccard similarity of candidate pairs, from their shingle sets.

LSH only proposes pairs; a pair becomes a duplicate edge only when the Jaccard similarity of the
two records' actual shingle sets reaches the threshold, so an LSH false positive never drops a
record. All pairs of a block are compared at once: each side's shingles are tagged with the pair
number, sorted, and equal neighbours counted.
"""

from __future__ import annotations

import itertools

import numpy as np

from curata.dedup.shingles import Shingles

MASK32 = np.uint64(0xFFFFFFFF)
# Shingles (both sides) per comparison block (8 MiB of tags): small blocks stay in cache.
BLOCK_ELEMENTS = 1 << 20


def shingle_sets(shingles: Shingles) -> Shingles:
    """Each record's distinct shingles (32-bit, sorted): the sets that Jaccard compares."""
    owner = np.repeat(np.arange(shingles.n_records, dtype=np.uint64), shingles.counts())
    packed = sorted_unique((owner << np.uint64(32)) | (shingles.hashes & MASK32))
    owners = (packed >> np.uint64(32)).astype(np.int64)
    counts = np.bincount(owners, minlength=shingles.n_records)
    return Shingles(packed & MASK32, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Distinct values, sorted (by sorting: numpy's hash-based `unique` is far slower here)."""
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of arange(s, s + l) for each (s, l), without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.asarray(np.arange(total, dtype=np.int64) + shift)


def jaccard_pairs(shingles: Shingles, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Jaccard similarity of the shingle sets of records left[i] and right[i] (0 when both are empty).

    Shingles may repeat within a record (sets are taken here): one sort of the tags
    (pair, 32-bit shingle, side) per block gives both set sizes and the intersection.
    """
    out = np.zeros(len(left), dtype=np.float32)
    sizes = shingles.counts()
    cost = sizes[left] + sizes[right]
    bounds = np.searchsorted(np.cumsum(cost), np.arange(0, int(cost.sum()) + 1, BLOCK_ELEMENTS)[1:], "right")
    edges = np.unique(np.concatenate([[0], bounds, [len(left)]]))
    for begin, end in itertools.pairwise(edges):
        count = int(end - begin)
        pair = np.arange(count, dtype=np.uint64)
        tags = []
        for side, rows in enumerate((left[begin:end], right[begin:end])):
            idx = ranges(shingles.offsets[rows], sizes[rows])
            owner = np.repeat(pair, sizes[rows])
            tags.append(
                (owner << np.uint64(33)) | ((shingles.hashes[idx] & MASK32) << np.uint64(1)) | np.uint64(side)
            )
        distinct = sorted_unique(np.concatenate(tags))
        pair_of = (distinct >> np.uint64(33)).astype(np.int64)
        side_of = (distinct & np.uint64(1)).astype(np.int64)
        set_sizes = np.bincount(pair_of * 2 + side_of, minlength=2 * count).reshape(count, 2)
        both = (distinct[1:] >> np.uint64(1)) == (distinct[:-1] >> np.uint64(1))
        inter = np.bincount(pair_of[1:][both], minlength=count)
        union = set_sizes[:, 0] + set_sizes[:, 1] - inter
        out[begin:end] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    return out
