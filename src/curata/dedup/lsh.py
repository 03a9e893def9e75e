"""LSH banding: candidate pairs of records whose signatures agree on a whole band.

Buckets are found by sorting each band's hashes (no dict of lists per record). Inside a bucket,
each member is paired with the next `window` members in row order and with the bucket's first
member, so a bucket of k records yields at most k * (window + 1) pairs: all pairs when k is
small, never O(k^2) when a template or boilerplate puts thousands of records in one bucket.
Transitivity (union-find over verified pairs) joins the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from curata.dedup.memmaps import release
from curata.dedup.shingles import SHINGLE_PRIME, mix64
from curata.dedup.verify import sorted_unique

U64 = np.uint64
# Raw candidate pairs gathered before they are deduplicated and merged (128 MiB of codes).
FLUSH_PAIRS = 1 << 24
# Signature rows read at once from a memory-mapped matrix (128 MiB at 128 slots).
MAPPED_ROWS = 1 << 18


def band_hashes(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One 64-bit hash per record of its signature slots `band * rows ... + rows`."""
    cols = sig[:, band * rows : (band + 1) * rows].astype(U64)
    acc = cols[:, 0].copy()
    for r in range(1, rows):
        acc *= SHINGLE_PRIME
        acc += cols[:, r]
    return mix64(acc)


def bucket_pairs(keys: np.ndarray, rows: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (low row, high row) of records sharing a key, capped per bucket as described above.

    `rows` must be increasing: a stable sort by key then keeps each bucket in row order.
    """
    order = np.argsort(keys, kind="stable")
    sk, sr = keys[order], rows[order]
    lefts: list[np.ndarray] = []
    rights: list[np.ndarray] = []
    for d in range(1, window + 1):
        if d >= len(sk):
            break
        same = np.flatnonzero(sk[d:] == sk[:-d])
        if len(same) == 0:
            break
        lefts.append(sr[same])
        rights.append(sr[same + d])
    new_bucket = np.ones(len(sk), dtype=bool)
    new_bucket[1:] = sk[1:] != sk[:-1]
    bucket_start = np.maximum.accumulate(np.where(new_bucket, np.arange(len(sk)), 0))
    far = np.flatnonzero(np.arange(len(sk)) - bucket_start > window)
    if len(far):
        lefts.append(sr[bucket_start[far]])
        rights.append(sr[far])
    if not lefts:
        empty = np.zeros(0, np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


def candidate_pairs(
    sig: np.ndarray, valid: np.ndarray, bands: int, rows: int, window: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Candidate pairs per band (they repeat across bands; the caller deduplicates)."""
    members = np.flatnonzero(valid).astype(np.int64)
    for band in range(bands):
        left, right = bucket_pairs(mapped_band_hashes(sig, band, rows)[members], members, window)
        yield left, right


def mapped_band_hashes(sig: np.ndarray, band: int, rows: int, chunk: int | None = None) -> np.ndarray:
    """`band_hashes` read `chunk` rows at a time when the signatures are a memory map, releasing
    each chunk's pages: a band's columns sit in every page of the file, and 42 bands would keep
    the whole matrix (2.5 GB at 5M records) resident in the process."""
    chunk = chunk or MAPPED_ROWS
    if not isinstance(sig, np.memmap) or len(sig) <= chunk:
        return band_hashes(sig, band, rows)
    out = np.empty(len(sig), dtype=U64)
    for start in range(0, len(sig), chunk):
        out[start : start + chunk] = band_hashes(sig[start : start + chunk], band, rows)
        release(sig)
    return out


def unique_codes(
    pair_parts: Iterator[tuple[np.ndarray, np.ndarray]], n: int, flush: int = FLUSH_PAIRS
) -> np.ndarray:
    """Distinct (low, high) pairs over all parts, sorted, packed as one int64 code per pair
    (`low * n + high`).

    The same pair comes back from many bands, so the parts are deduplicated as they arrive
    (every `flush` pairs) and merged into the distinct pairs so far: memory follows the distinct
    pairs, not bands x window x rows (on a heavily duplicated million-record set, 378M raw pairs
    for 60M distinct ones)."""
    merged = np.zeros(0, np.int64)
    pending: list[np.ndarray] = []
    waiting = 0
    for left, right in pair_parts:
        if len(left):
            pending.append(left * n + right)
            waiting += len(left)
        if waiting >= flush:
            merged = merge_sorted_unique(merged, sorted_unique(np.concatenate(pending)))
            pending, waiting = [], 0
    if pending:
        merged = merge_sorted_unique(merged, sorted_unique(np.concatenate(pending)))
    return merged


def merge_sorted_unique(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct values of two sorted, distinct arrays, sorted: numpy's stable sort (timsort
    for int64) finds the two runs and merges them in linear time."""
    if len(a) == 0:
        return b
    both = np.concatenate([a, b])
    both.sort(kind="stable")
    keep = np.ones(len(both), dtype=bool)
    keep[1:] = both[1:] != both[:-1]
    return both[keep]
