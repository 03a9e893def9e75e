"""Near-duplicate clusters: MinHash signatures, LSH candidates, true-Jaccard verification, and
union-find (connected components) over the verified pairs.

Memory stays bounded: texts are read once, a batch at a time; signatures are a uint32 matrix and
the shingle hashes kept for verification are uint32 too, both in files under the run's work area
(memory maps) when a scratch folder is given and the set is large.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from curata.dedup.candidates import ordered_candidates
from curata.dedup.lsh import MAPPED_ROWS
from curata.dedup.memmaps import release
from curata.dedup.minhash import oph_signatures, permutations, signatures
from curata.dedup.shingles import ShingleKind, Shingles
from curata.dedup.verify import jaccard_pairs, ranges, sorted_unique

# Signature matrices larger than this live in a memory map (when a scratch folder is given).
MEMMAP_BYTES = 256 * 2**20
# Shingles per signature piece (2 MiB of hashes).
PIECE_SHINGLES = 1 << 18
# Candidate pairs verified per round: bounds the shingles gathered at once, and between rounds
# pairs already joined are skipped.
VERIFY_PAIRS = 20_000
# Splitting chained clusters into stars (see split_stars) runs until every member is settled, as
# long as it has checked fewer than this many pairs per row of the set: a templated set needs
# hundreds of rounds (GPTeacher: ~5,700 chained records), and stopping early keeps records that
# are near duplicates of each other.
STAR_PAIRS_PER_ROW = 64
# Stored shingles read from the memory map between releases of its pages (see `release`).
RELEASE_ROWS = 1 << 20


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
    # Records with fewer shingles are left to exact dedup: in a text of a few words one edit moves
    # the Jaccard a lot, and "What is 2+2? 4" vs "... 5" is a conflict, not a near duplicate.
    min_shingles: int = 10
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
    """Verified duplicate pairs (low row, high row, Jaccard) and the component of every row.

    The pairs span the clusters; pairs inside an already-joined cluster are not verified.
    """

    labels: np.ndarray
    left: np.ndarray
    right: np.ndarray
    jaccard: np.ndarray
    candidates: int
    # Per row, the Jaccard to the record kept for it (when clusters were split into stars).
    to_kept: np.ndarray | None = None
    # The connected components of the verified pairs before the split into stars: records of
    # one component may sit in different stars yet be near duplicates of each other.
    components: np.ndarray | None = None

    def best_similarity(self) -> np.ndarray:
        """Per row, the highest verified Jaccard to another row (0 when it has none)."""
        best = np.zeros(len(self.labels), dtype=np.float32)
        np.maximum.at(best, self.left, self.jaccard)
        np.maximum.at(best, self.right, self.jaccard)
        return best


SignatureMethod = Literal["oph", "permutations"]


class ShingleStore:
    """Every record's shingle hashes (low 32 bits) from the signature pass, kept for verification
    so candidate texts are not read and tokenised twice; in a file under `scratch` when given."""

    def __init__(self, scratch: Path | None) -> None:
        self.path = scratch / "shingles.u32" if scratch is not None else None
        self.parts: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.file = self.path.open("wb") if self.path is not None else None
        self.data: np.ndarray = np.zeros(0, np.uint32)
        self.offsets: np.ndarray = np.zeros(1, np.int64)
        self.unreleased = 0

    def add(self, shingles: Shingles) -> None:
        low = (shingles.hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        if self.file is not None:
            self.file.write(low.tobytes())
        else:
            self.parts.append(low)
        self.counts.append(shingles.counts())

    def close(self) -> None:
        counts = np.concatenate(self.counts) if self.counts else np.zeros(0, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if self.file is not None and self.path is not None:
            self.file.close()
            total = int(self.offsets[-1])
            self.data = (
                np.memmap(self.path, dtype=np.uint32, mode="r", shape=(total,)) if total else self.data
            )
        else:
            self.data = np.concatenate(self.parts) if self.parts else self.data
            self.parts = []

    def rows(self, rows: np.ndarray) -> Shingles:
        """The stored shingles of these rows, in the order given."""
        counts = self.offsets[rows + 1] - self.offsets[rows]
        values = np.asarray(self.data[ranges(self.offsets[rows], counts)]).astype(np.uint64)
        self.unreleased += len(rows)
        if self.unreleased >= RELEASE_ROWS:
            release(self.data)
            self.unreleased = 0
        return Shingles(values, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def pieces(shingles: Shingles, size: int = PIECE_SHINGLES) -> Iterator[Shingles]:
    """The records of a batch in pieces of about `size` shingles (whole records): small arrays
    reuse the allocator's memory instead of faulting fresh pages in."""
    if len(shingles.hashes) <= size:
        yield shingles
        return
    cuts = np.searchsorted(shingles.offsets, np.arange(size, len(shingles.hashes), size))
    bounds = np.unique(np.concatenate([[0], cuts, [shingles.n_records]]))
    for lo, hi in itertools.pairwise(bounds):
        first, last = shingles.offsets[lo], shingles.offsets[hi]
        yield Shingles(shingles.hashes[first:last], shingles.offsets[lo : hi + 1] - first)


@dataclass
class Sketch:
    """What the one pass over the texts leaves: signatures and the shingles for verification."""

    signatures: np.ndarray
    shingles: ShingleStore
    # Where large intermediate tables (candidate pairs) may be spilled; None keeps them in memory.
    scratch: Path | None = None


def sketch(
    batches: Iterable[Shingles], n_rows: int, params: NearDedupParams, scratch: Path | None = None
) -> Sketch:
    """Signatures of every row, filled batch by batch (batches cover the rows in order)."""
    a, b = permutations(params.num_perm, params.seed)
    shape = (n_rows, params.num_perm)
    sig: np.ndarray
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
    if scratch is not None and n_rows * params.num_perm * 4 > MEMMAP_BYTES:
        sig = np.lib.format.open_memmap(scratch / "minhash.npy", mode="w+", dtype=np.uint32, shape=shape)
    else:
        sig = np.empty(shape, dtype=np.uint32)
    store = ShingleStore(scratch)
    start = 0
    for batch in batches:
        for shingles in pieces(batch):
            stop = start + shingles.n_records
            if params.method == "oph":
                sig[start:stop] = oph_signatures(shingles, params.num_perm, params.seed)
            else:
                sig[start:stop] = signatures(shingles, a, b)
            store.add(shingles)
            if stop // MAPPED_ROWS != start // MAPPED_ROWS:
                release(sig)  # written pages go to the file, not the process's memory
            start = stop
    store.close()
    release(sig)
    if start != n_rows:
        raise ValueError(f"signature batches covered {start} rows, expected {n_rows}")
    return Sketch(sig, store, scratch)


def verify_rounds(
    left: np.ndarray,
    right: np.ndarray,
    rounds: Iterable[np.ndarray],
    similarity: Callable[[np.ndarray], np.ndarray],
    threshold: float,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`verify_pairs` over rounds given as indexes into `left`/`right`; `similarity(pair
    indexes)` gives their true Jaccard (computed by Ray tasks on the Ray engine)."""
    indexed = ((left[p], right[p], p) for p in rounds)
    return verify_pairs(indexed, lambda lo, hi, ids: similarity(ids), threshold, n)


def verify_pairs(
    rounds: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    similarity: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    threshold: float,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Verify the candidate pairs round by round and union the ones that pass; returns the kept
    pairs (low, high, Jaccard) and the component of every row.

    `rounds` yields (low rows, high rows, pair ids); `similarity(low, high, ids)` gives the true
    Jaccard of the pairs asked for. A pair whose two records are already joined by the pairs kept
    in earlier rounds is skipped: it cannot change the clusters. This keeps templated sets, where
    thousands of records are all alike, to about one verification per record.
    """
    keep_l, keep_r, keep_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    roots = np.arange(n, dtype=np.int64)
    for lows, highs, ids in rounds:
        open_ = roots[lows] != roots[highs]
        if not open_.any():
            continue
        low, high = lows[open_], highs[open_]
        sim = similarity(low, high, ids[open_])
        ok = sim >= threshold
        keep_l.append(low[ok])
        keep_r.append(high[ok])
        keep_j.append(sim[ok])
        if ok.any():
            roots = merge_roots(roots, keep_l[-1], keep_r[-1])
    labels = np.unique(roots, return_inverse=True)[1].ravel().astype(np.int64)
    return np.concatenate(keep_l), np.concatenate(keep_r), np.concatenate(keep_j), labels


def merge_roots(roots: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union of the components in `roots` (per row, the lowest row of its component) along the new
    edges: a connected-components pass over the few roots the edges touch, then one relabel of
    the rows. Recomputing the components of every edge so far each round cost O(rows) in scipy
    per round, which made verification quadratic on large, heavily duplicated sets."""
    ends = np.concatenate([roots[left], roots[right]])
    touched = sorted_unique(ends)
    at = np.searchsorted(touched, ends)
    half = len(left)
    piece = components(len(touched), at[:half], at[half:])
    lowest = np.full(int(piece.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(lowest, piece, touched)
    remap = np.arange(len(roots), dtype=np.int64)
    remap[touched] = lowest[piece]
    return np.asarray(remap[roots])


def stored_jaccard(store: ShingleStore, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True Jaccard of the pairs (left[i], right[i]) from the stored shingles, `VERIFY_PAIRS` at
    a time: the star split asks for most of the set at once, whose shingles would not fit."""
    out = np.empty(len(left), dtype=np.float32)
    for start in range(0, len(left), VERIFY_PAIRS):
        lp, rp = left[start : start + VERIFY_PAIRS], right[start : start + VERIFY_PAIRS]
        ends = np.concatenate([lp, rp])
        rows = sorted_unique(ends)
        inverse = np.searchsorted(rows, ends)
        out[start : start + len(lp)] = jaccard_pairs(store.rows(rows), inverse[: len(lp)], inverse[len(lp) :])
    return out


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union-find over the edges: a component number per row."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def star_clusters(
    labels: np.ndarray,
    store: ShingleStore,
    threshold: float,
    pick: Callable[[np.ndarray], np.ndarray],
    pairs_per_row: int = STAR_PAIRS_PER_ROW,
    edges: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`split_stars` with the Jaccard read from the shingle store."""
    return split_stars(
        labels, lambda a, b: stored_jaccard(store, a, b), threshold, pick, pairs_per_row, edges
    )


def split_stars(
    labels: np.ndarray,
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray],
    threshold: float,
    pick: Callable[[np.ndarray], np.ndarray],
    pairs_per_row: int = STAR_PAIRS_PER_ROW,
    edges: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split chained components so every member is itself similar to the record kept for it.

    Union-find joins A~B~C even when A and C share little (templated sets chain through a shared
    preamble); a record is dropped only if its own Jaccard to the kept representative passes the
    threshold. Members that fail form a new group (with its own representative) for the next
    round, until every member is settled; so a kept record is never within the threshold of the
    record kept in an earlier round of its chain. Should the pairs checked exceed `pairs_per_row`
    per row (a pathological chain), the rest stay on their own, kept. `similarity(rows, kept
    rows)` gives the true Jaccard of each pair. Returns the labels and, per row, the Jaccard to its
    representative (1 for representatives and singletons)."""
    labels = labels.copy()
    n = len(labels)
    to_kept = np.ones(n, dtype=np.float32)
    settled = np.zeros(n, dtype=bool)
    failing = np.zeros(0, dtype=np.int64)
    budget = pairs_per_row * n
    while budget > 0:
        kept = pick(labels)
        members = np.flatnonzero((kept != np.arange(n)) & ~settled)
        if len(members) == 0:
            return labels, to_kept
        budget -= len(members)
        sim = similarity(members, kept[members])
        ok = sim >= threshold
        to_kept[members] = sim
        settled[members[ok]] = True
        failing = members[~ok]
        if len(failing) == 0:
            return labels, to_kept
        labels[failing] = labels.max() + 1 + regroup(failing, labels, edges, n)
        labels = np.unique(labels, return_inverse=True)[1].ravel().astype(np.int64)
        to_kept[failing] = 1.0
    if len(failing):
        labels[failing] = labels.max() + 1 + np.arange(len(failing))
        to_kept[failing] = 1.0
    return labels, to_kept


def regroup(
    failing: np.ndarray, labels: np.ndarray, edges: tuple[np.ndarray, np.ndarray] | None, n: int
) -> np.ndarray:
    """The next round's groups of the members that failed: with the verified `edges`, the
    connected pieces they form among themselves (a chain of dense clusters then splits into its
    clusters at once instead of one per round); without, one group per former cluster."""
    if edges is None:
        return np.asarray(labels[failing], dtype=np.int64)
    left, right = edges
    out = np.zeros(n, dtype=bool)
    out[failing] = True
    inside = out[left] & out[right]
    return np.asarray(components(n, left[inside], right[inside])[failing], dtype=np.int64)


def find_near_duplicates(
    sketched: Sketch, params: NearDedupParams, pick: Callable[[np.ndarray], np.ndarray] | None = None
) -> NearDuplicates:
    """Candidates from LSH, filtered by signature estimate, verified on the true shingle sets;
    with `pick` (labels -> kept row per row), chained clusters are split by `star_clusters`."""
    sig = sketched.signatures
    n = len(sig)
    valid = np.diff(sketched.shingles.offsets) >= max(params.min_shingles, 1)
    cutoff = params.threshold - params.slack
    ordered = ordered_candidates(
        sig, valid, params.bands, params.rows, params.window, cutoff, sketched.scratch
    )
    rounds = ((low, high, low) for low, high in ordered.rounds(VERIFY_PAIRS))
    store = sketched.shingles
    left, right, sim, labels = verify_pairs(
        rounds, lambda low, high, _: stored_jaccard(store, low, high), params.threshold, n
    )
    to_kept = None
    joined = labels
    if pick is not None:
        labels, to_kept = star_clusters(
            labels, sketched.shingles, params.threshold, pick, edges=(left, right)
        )
    return NearDuplicates(labels, left, right, sim, ordered.count, to_kept, joined)
