"""Semantic duplicates: pairs of records whose embeddings have cosine similarity ≥ a threshold.

Exact range search (faiss `IndexFlatIP.range_search`) finds every pair above the threshold, so
nothing is missed through an approximate index. Large sets are first split SemDeDup-style
(Abbas et al. 2023) with k-means into partitions of bounded size, and pairs are searched only
within a partition; each vector joins its two nearest centroids' partitions, so a duplicate pair
straddling a boundary is still found. The cost is then O(n · partition_size), not O(n²).
Pairs become clusters with connected components (union-find over every edge).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from curata.embed.base import unit_rows
from curata.errors import CurataError

PARTITION_SIZE = 5_000
KMEANS_SAMPLE = 100_000
ASSIGNMENTS = 2


def faiss_module() -> Any:
    try:
        import faiss
    except ImportError:
        raise CurataError(
            "semantic_dedup and topics need the 'embed' extra: pip install 'curata[embed]' 'torch==2.13.0'"
        ) from None
    return faiss


@contextmanager
def one_thread() -> Iterator[None]:
    """BLAS and faiss on one thread. The matrices here are thin (d ≤ 1k), where a second thread
    gains little, while OpenBLAS's spinning threads slow ~15x when other processes hold the cores
    (measured: a 3k × 256 SVD takes 0.3 s on one thread, 5.5 s on two under load)."""
    faiss = faiss_module()
    from threadpoolctl import threadpool_limits

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        faiss.omp_set_num_threads(previous)


MEAN_CHUNK = 4_096  # rows per exact partial sum (small: the temporaries stay in cache)
EXP_OFFSET, EXP_BINS = 150, 280  # float32 frexp exponents lie in [-148, 128]


def exponent_sums(vectors: np.ndarray) -> np.ndarray:
    """The exact column sums of float32 rows, as (EXP_BINS, d) int64 sums of 24-bit mantissas
    per binary exponent.

    Adding integers is associative, so these sums (and so the set mean) are the same whatever
    the order or grouping of the rows: the local engine and the Ray engine's blocks agree bit
    for bit. Every float32 is (mantissa · 2^24) · 2^(exponent − 24) with an integer first factor.
    """
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    d = v.shape[1] if v.ndim == 2 else 0
    total = np.zeros((EXP_BINS, d), dtype=np.int64)
    columns = np.arange(d, dtype=np.int32)
    for start in range(0, len(v), MEAN_CHUNK):
        mantissa, exponent = np.frexp(v[start : start + MEAN_CHUNK])
        index = (exponent + EXP_OFFSET) * d + columns
        # |partial sums| < 2^24 · MEAN_CHUNK < 2^53: the float64 bincount is exact.
        sums = np.bincount(
            index.ravel(), weights=(mantissa.astype(np.float64) * 2.0**24).ravel(), minlength=EXP_BINS * d
        )
        if not np.isfinite(sums).all():
            raise CurataError("an embedding has a NaN or infinite value; cannot compute the set mean")
        total += sums.astype(np.int64).reshape(EXP_BINS, d)
    return total


def mean_from_sums(sums: np.ndarray, n: int) -> np.ndarray:
    """The float32 mean (1, d) from `exponent_sums` totals over `n` rows (exact sum, one rounding
    to float64, then float32)."""
    from fractions import Fraction

    d = sums.shape[1]
    mean = np.zeros((1, d), dtype=np.float32)
    if n == 0:
        return mean
    present = [b for b in range(EXP_BINS) if sums[b].any()]
    for column in range(d):
        # In units of 2^-173: bin b holds exponent b - EXP_OFFSET, unit 2^(b - EXP_OFFSET - 24).
        exact = sum(int(sums[b, column]) << (b - EXP_OFFSET - 24 + 173) for b in present)
        mean[0, column] = np.float32(float(Fraction(exact, n << 173)))
    return mean


def set_mean(vectors: np.ndarray) -> np.ndarray:
    """The set's mean row (1, d): the exact sum, rounded at the end, so independent of row order."""
    v = np.asarray(vectors, dtype=np.float32)
    return mean_from_sums(exponent_sums(v), len(v))


def centred(vectors: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Unit rows after removing the set's mean direction (`set_mean`, or the `mean` given).

    Static embeddings share a large common component (random pairs of long texts have cosine
    ≈ 0.6); removing it spreads unrelated texts apart while near-identical texts stay close.
    Each row's result depends only on the row and the mean, so any block of rows can be centred
    on its own (the Ray engine does this per block with the set's mean).
    """
    v = np.asarray(vectors, dtype=np.float32)
    if len(v) == 0:
        return v
    mean = set_mean(v) if mean is None else np.asarray(mean, dtype=np.float32).reshape(1, -1)
    out = v - mean
    # A row equal to the mean (e.g. every record the same) would vanish: give all such rows one
    # shared direction, so identical records still match each other.
    at_mean = np.linalg.norm(out, axis=1) < 1e-4
    out[at_mean] = unit_rows(mean)[0] if np.linalg.norm(mean) > 0 else 0.0
    return unit_rows(out)


def sample_rows(n: int, seed: int = 0) -> np.ndarray | None:
    """The rows k-means trains on, in training order: None for all rows (n ≤ KMEANS_SAMPLE)."""
    if n <= KMEANS_SAMPLE:
        return None
    return np.random.default_rng(seed).choice(n, KMEANS_SAMPLE, replace=False)


def kmeans_centroids(vectors: np.ndarray, k: int, seed: int = 0, iterations: int = 20) -> np.ndarray:
    """k-means centroids (faiss), trained on at most KMEANS_SAMPLE rows for bounded cost."""
    chosen = sample_rows(len(vectors), seed)
    return train_centroids(vectors if chosen is None else vectors[chosen], k, seed, iterations)


def train_centroids(sample: np.ndarray, k: int, seed: int = 0, iterations: int = 20) -> np.ndarray:
    """Spherical k-means (faiss) on exactly the rows given, in their order."""
    faiss = faiss_module()

    kmeans = faiss.Kmeans(
        sample.shape[1],
        k,
        niter=iterations,
        seed=seed,
        spherical=True,
        verbose=False,
        max_points_per_centroid=max(256, len(sample) // k + 1),
    )
    kmeans.train(np.ascontiguousarray(sample, dtype=np.float32))
    return np.asarray(kmeans.centroids, dtype=np.float32)


def nearest_centroids(vectors: np.ndarray, centroids: np.ndarray, m: int) -> np.ndarray:
    """For each vector, the indices of its `m` most similar centroids."""
    faiss = faiss_module()

    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(centroids)
    _, nearest = index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(m, len(centroids)))
    return np.asarray(nearest)


def assign_centroids(vectors: np.ndarray, centroids: np.ndarray, m: int, chunk: int = 8_192) -> np.ndarray:
    """Each row's `m` most similar centroids, most similar first (ties: lower centroid index).

    Row by row the same whichever rows share the call (float64 products of float32 values are
    exact and the sums carry 29 more bits than float32), so the Ray engine's blocks assign each
    row as the local engine does; faiss's float32 search changes in the last bits with the
    number of rows searched together.
    """
    m = min(m, len(centroids))
    c = np.asarray(centroids, dtype=np.float64)
    out = np.zeros((len(vectors), m), dtype=np.int64)
    for start in range(0, len(vectors), chunk):
        scores = np.asarray(vectors[start : start + chunk], dtype=np.float64) @ c.T
        top = (
            np.argpartition(-scores, m - 1, axis=1)[:, :m]
            if m < len(c)
            else np.tile(np.arange(m), (len(scores), 1))
        )
        picked = np.take_along_axis(scores, top, axis=1)
        order = np.lexsort((top, -picked), axis=1) if m > 1 else np.zeros_like(top)
        out[start : start + chunk] = np.take_along_axis(top, order, axis=1)
    return out


def partition_count(n: int, size: int) -> int:
    """How many k-means partitions a set of n rows gets (each row joins ASSIGNMENTS of them)."""
    return int(np.ceil(n * ASSIGNMENTS / size))


def partitions(vectors: np.ndarray, size: int, seed: int = 0) -> list[np.ndarray]:
    """Row groups of about `size` rows such that similar rows share at least one group."""
    n = len(vectors)
    if n <= size:
        return [np.arange(n)]
    centroids = kmeans_centroids(vectors, partition_count(n, size), seed)
    nearest = assign_centroids(vectors, centroids, ASSIGNMENTS)
    groups: list[np.ndarray] = []
    for c in range(len(centroids)):
        members = np.flatnonzero((nearest == c).any(axis=1))
        groups.extend(members[g] for g in split_partition(vectors[members], size, seed, c))
    return groups


def split_partition(vectors: np.ndarray, size: int, seed: int, c: int) -> list[np.ndarray]:
    """The groups (positions in `vectors`, one partition's rows in row order) searched for pairs.

    An oversized cluster is split again (hard assignment) so no partition grows unbounded.
    """
    if len(vectors) > 2 * size:
        return partitions_hard(vectors, size, seed + c + 1)
    return [np.arange(len(vectors))] if len(vectors) > 1 else []


def partitions_hard(vectors: np.ndarray, size: int, seed: int) -> list[np.ndarray]:
    k = int(np.ceil(len(vectors) / size))
    nearest = nearest_centroids(vectors, kmeans_centroids(vectors, k, seed), 1)[:, 0]
    return [np.flatnonzero(nearest == c) for c in range(k) if np.count_nonzero(nearest == c) > 1]


def pairs_within(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) with inner product ≥ threshold, and its similarity (exact search)."""
    faiss = faiss_module()

    index = faiss.IndexFlatIP(vectors.shape[1])
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index.add(x)
    lims, sims, neighbours = index.range_search(x, float(threshold))
    rows = np.repeat(np.arange(len(x), dtype=np.int64), np.diff(lims).astype(np.int64))
    keep = rows < neighbours
    return rows[keep], np.asarray(neighbours[keep], dtype=np.int64), np.asarray(sims[keep], dtype=np.float32)


@dataclass
class SimilarPairs:
    left: np.ndarray
    right: np.ndarray
    similarity: np.ndarray


def similar_pairs(
    vectors: np.ndarray,
    threshold: float,
    *,
    partition_size: int = PARTITION_SIZE,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> SimilarPairs:
    """All pairs of rows with cosine ≥ threshold (rows must be unit vectors), each pair once."""
    lefts, rights, sims = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for group in partitions(vectors, partition_size, seed):
        i, j, s = pairs_within(vectors[group], threshold)
        lefts.append(group[i])
        rights.append(group[j])
        sims.append(s)
        if progress is not None:
            progress(len(group))
    return unique_pairs(np.concatenate(lefts), np.concatenate(rights), np.concatenate(sims))


def unique_pairs(left: np.ndarray, right: np.ndarray, similarity: np.ndarray) -> SimilarPairs:
    """Each pair once (low row, high row), in pair order, with its highest similarity (a pair in
    two partitions may differ in the last bit): the same whatever order the partitions came in."""
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    order = np.lexsort((-similarity, hi, lo))
    lo, hi, similarity = lo[order], hi[order], similarity[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return SimilarPairs(lo[first], hi[first], similarity[first])


def components(n: int, pairs: SimilarPairs) -> np.ndarray:
    """A component label per row: rows linked by any chain of pairs share one (union-find)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs.left), dtype=np.int8), (pairs.left, pairs.right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def best_similarity(n: int, pairs: SimilarPairs) -> np.ndarray:
    """Each row's highest similarity to any other row in a pair (0 when it has none)."""
    best = np.zeros(n, dtype=np.float32)
    np.maximum.at(best, pairs.left, pairs.similarity)
    np.maximum.at(best, pairs.right, pairs.similarity)
    return best
