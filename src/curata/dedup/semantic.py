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


def centred(vectors: np.ndarray) -> np.ndarray:
    """Unit rows after removing the set's mean direction.

    Static embeddings share a large common component (random pairs of long texts have cosine
    ≈ 0.6); removing it spreads unrelated texts apart while near-identical texts stay close.
    """
    v = np.asarray(vectors, dtype=np.float32)
    if len(v) == 0:
        return v
    mean = v.mean(axis=0, keepdims=True)
    out = v - mean
    # A row equal to the mean (e.g. every record the same) would vanish: give all such rows one
    # shared direction, so identical records still match each other.
    at_mean = np.linalg.norm(out, axis=1) < 1e-4
    out[at_mean] = unit_rows(mean)[0] if np.linalg.norm(mean) > 0 else 0.0
    return unit_rows(out)


def kmeans_centroids(vectors: np.ndarray, k: int, seed: int = 0, iterations: int = 20) -> np.ndarray:
    """k-means centroids (faiss), trained on at most KMEANS_SAMPLE rows for bounded cost."""
    faiss = faiss_module()

    rng = np.random.default_rng(seed)
    sample = (
        vectors
        if len(vectors) <= KMEANS_SAMPLE
        else vectors[rng.choice(len(vectors), KMEANS_SAMPLE, replace=False)]
    )
    kmeans = faiss.Kmeans(
        vectors.shape[1],
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


def partitions(vectors: np.ndarray, size: int, seed: int = 0) -> list[np.ndarray]:
    """Row groups of about `size` rows such that similar rows share at least one group."""
    n = len(vectors)
    if n <= size:
        return [np.arange(n)]
    k = int(np.ceil(n * ASSIGNMENTS / size))
    centroids = kmeans_centroids(vectors, k, seed)
    nearest = nearest_centroids(vectors, centroids, ASSIGNMENTS)
    groups: list[np.ndarray] = []
    for c in range(len(centroids)):
        members = np.flatnonzero((nearest == c).any(axis=1))
        if len(members) > 2 * size:
            # An oversized cluster is split again (hard assignment) so no partition grows unbounded.
            inner = partitions_hard(vectors[members], size, seed + c + 1)
            groups.extend(members[g] for g in inner)
        elif len(members) > 1:
            groups.append(members)
    return groups


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
    n = len(vectors)
    lefts, rights, sims = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for group in partitions(vectors, partition_size, seed):
        i, j, s = pairs_within(vectors[group], threshold)
        lefts.append(group[i])
        rights.append(group[j])
        sims.append(s)
        if progress is not None:
            progress(len(group))
    left, right, sim = np.concatenate(lefts), np.concatenate(rights), np.concatenate(sims)
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    _, first = np.unique(lo * np.int64(max(n, 1)) + hi, return_index=True)
    return SimilarPairs(lo[first], hi[first], sim[first])


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
