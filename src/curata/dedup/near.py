"""Near-duplicate clusters: MinHash signatures, LSH candidates, true-Jaccard verification, and
union-find (connected components) over the verified pairs.

Memory stays bounded: texts are read a batch at a time for the signatures and again, only for the
rows of candidate pairs, for verification; signatures are a uint32 matrix, kept in a memory map
under the run's work area when it is large.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from curata.dedup.lsh import candidate_pairs, unique_pairs
from curata.dedup.minhash import EMPTY, estimated_jaccard, oph_signatures, permutations, signatures
from curata.dedup.shingles import Shingles, ShingleKind
from curata.dedup.verify import jaccard_pairs, shingle_sets, sorted_unique

# Signature matrices larger than this live in a memory map (when a scratch folder is given).
MEMMAP_BYTES = 256 * 2**20
# Candidate pairs verified per round (bounds the texts fetched at once).
VERIFY_PAIRS = 100_000


@dataclass(frozen=True)
class NearDedupParams:
    """How near duplicates are found; the defaults come from benchmarks/dedup.py (docs/dedup.md)."""

    # "oph": one hash per shingle (fast); "permutations": num_perm universal hashes per shingle.
    method: SignatureMethod = "oph"
    shingle: ShingleKind = "word"
    n: int = 2
    num_perm: int = 128
    bands: int = 42
    rows: int = 3
    threshold: float = 0.5
    # Pairs per bucket member beyond which a bucket pairs members only with its first member.
    window: int = 8
    # Candidates whose signature estimate is this far under the threshold skip exact verification.
    slack: float = 0.2
    seed: int = 1

    def check(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) exceeds num_perm ({self.num_perm})")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")


@dataclass(frozen=True)
class NearDuplicates:
    """Verified duplicate pairs (low row, high row, Jaccard) and the component of every row."""

    labels: np.ndarray
    left: np.ndarray
    right: np.ndarray
    jaccard: np.ndarray
    candidates: int

    def best_similarity(self) -> np.ndarray:
        """Per row, the highest verified Jaccard to another row (0 when it has none)."""
        best = np.zeros(len(self.labels), dtype=np.float32)
        np.maximum.at(best, self.left, self.jaccard)
        np.maximum.at(best, self.right, self.jaccard)
        return best


SignatureMethod = Literal["oph", "permutations"]
ShingleSource = Callable[[np.ndarray], Shingles]


def signature_matrix(
    batches: Iterable[Shingles], n_rows: int, params: NearDedupParams, scratch: Path | None = None
) -> np.ndarray:
    """Signatures of every row, filled batch by batch (batches cover the rows in order)."""
    a, b = permutations(params.num_perm, params.seed)
    shape = (n_rows, params.num_perm)
    sig: np.ndarray
    if scratch is not None and n_rows * params.num_perm * 4 > MEMMAP_BYTES:
        scratch.mkdir(parents=True, exist_ok=True)
        sig = np.lib.format.open_memmap(scratch / "minhash.npy", mode="w+", dtype=np.uint32, shape=shape)
    else:
        sig = np.empty(shape, dtype=np.uint32)
    start = 0
    for shingles in batches:
        stop = start + shingles.n_records
        if params.method == "oph":
            sig[start:stop] = oph_signatures(shingles, params.num_perm, params.seed)
        else:
            sig[start:stop] = signatures(shingles, a, b)
        start = stop
    if start != n_rows:
        raise ValueError(f"signature batches covered {start} rows, expected {n_rows}")
    return sig


def verify(
    left: np.ndarray, right: np.ndarray, source: ShingleSource, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs whose true Jaccard reaches the threshold, with that Jaccard."""
    keep_l, keep_r, keep_j = [], [], []
    for s in range(0, len(left), VERIFY_PAIRS):
        lp, rp = left[s : s + VERIFY_PAIRS], right[s : s + VERIFY_PAIRS]
        ends = np.concatenate([lp, rp])
        rows = sorted_unique(ends)
        inverse = np.searchsorted(rows, ends)
        sets = shingle_sets(source(rows))
        sim = jaccard_pairs(sets, inverse[: len(lp)], inverse[len(lp) :])
        ok = sim >= threshold
        keep_l.append(lp[ok])
        keep_r.append(rp[ok])
        keep_j.append(sim[ok])
    if not keep_l:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(keep_l), np.concatenate(keep_r), np.concatenate(keep_j)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union-find over the edges: a component number per row."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def find_near_duplicates(
    sig: np.ndarray, source: ShingleSource, params: NearDedupParams
) -> NearDuplicates:
    """Candidates from LSH, filtered by signature estimate, verified on the true shingle sets."""
    n = len(sig)
    valid = sig[:, 0] != EMPTY if n else np.zeros(0, dtype=bool)
    left, right = unique_pairs(candidate_pairs(sig, valid, params.bands, params.rows, params.window), n)
    candidates = len(left)
    promising = estimated_jaccard(sig, left, right) >= params.threshold - params.slack
    left, right, sim = verify(left[promising], right[promising], source, params.threshold)
    return NearDuplicates(components(n, left, right), left, right, sim, candidates)
