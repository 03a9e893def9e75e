"""MinHash signatures from shingle hashes, vectorised over shingles and permutations.

Each permutation is a multiply-add-shift universal hash, `h_i(x) = ((a_i * x + b_i) mod 2^64) >> 32`
with random odd `a_i`: the `(a*x + b) mod p` family with p = 2^64, whose top bits are what makes
it universal (Dietzfelbinger et al.). It needs no division, which is what a prime modulus costs in
numpy (measured about 3x slower for the same signature). Per record the minimum over its shingles
is taken with `np.minimum.reduceat`, a block of shingles at a time so the (shingles x permutations)
product stays in cache.
"""

from __future__ import annotations

import numpy as np

from curata.dedup.memmaps import release
from curata.dedup.shingles import Shingles, mix64

U64 = np.uint64
EMPTY = np.uint32(0xFFFFFFFF)
# Shingles per block: 4096 x 128 permutations x 8 bytes is 4 MiB of work space.
BLOCK_SHINGLES = 4096
# Densification probe rounds: a record with a fifth of its bins filled misses all with p < 1e-9.
PROBES = 96
# Pair chunks of `estimated_jaccard` between releases of a memory-mapped signature matrix.
RELEASE_CHUNKS = 16


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) coefficients of the permutations: fixed by the seed, so runs are reproducible."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * U64(2) + U64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(shingles: Shingles, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A (records, permutations) uint32 matrix; a record without shingles gets all `EMPTY`."""
    n, k = shingles.n_records, len(a)
    sig = np.full((n, k), EMPTY, dtype=np.uint32) if out is None else out
    if out is not None:
        sig[:] = EMPTY
    counts = shingles.counts()
    present = np.flatnonzero(counts > 0)
    if len(present) == 0:
        return sig
    starts = shingles.offsets[present]
    hashes = shingles.hashes
    work = np.empty((BLOCK_SHINGLES, k), dtype=U64)
    pos = 0
    while pos < len(present):
        begin = int(starts[pos])
        # Take whole records until the block is full (at least one record, however long).
        end_pos = int(np.searchsorted(starts, begin + BLOCK_SHINGLES, side="right"))
        end_pos = max(end_pos, pos + 1)
        stop = int(shingles.offsets[present[end_pos - 1] + 1])
        block = hashes[begin:stop]
        space = work[: len(block)] if len(block) <= BLOCK_SHINGLES else np.empty((len(block), k), U64)
        np.multiply(block[:, None], a[None, :], out=space)
        space += b
        space >>= U64(32)
        local = starts[pos:end_pos] - begin
        sig[present[pos:end_pos]] = np.minimum.reduceat(space, local, axis=0).astype(np.uint32)
        pos = end_pos
    return sig


def oph_signatures(shingles: Shingles, num_perm: int, seed: int = 1) -> np.ndarray:
    """One-permutation MinHash with optimal densification (Shrivastava, ICML 2017).

    Each shingle is hashed once; its top bits choose one of `num_perm` bins and its low 32 bits
    compete for that bin's minimum (`np.minimum.at`). A bin no shingle fell into copies the value
    of the bin that a fixed sequence of probes names first among the filled ones; the sequence is
    the same for every record, so two records still agree on a slot with probability equal to
    their Jaccard similarity. Cost per shingle is O(1) instead of O(num_perm).
    """
    n, k = shingles.n_records, num_perm
    flat = np.full(n * k, EMPTY, dtype=np.uint32)
    if len(shingles.hashes) == 0:
        return flat.reshape(n, k)
    mixed = mix64(shingles.hashes ^ U64(seed * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF))
    owner = np.repeat(np.arange(n, dtype=np.int64) * k, shingles.counts())
    slot = ((mixed >> U64(32)) * U64(k)) >> U64(32)
    np.minimum.at(flat, owner + slot.astype(np.int64), (mixed & U64(0xFFFFFFFF)).astype(np.uint32))
    sig = flat.reshape(n, k)
    densify(sig, np.diff(shingles.offsets) > 0, seed)
    return sig


def probe_table(num_perm: int, seed: int) -> np.ndarray:
    """For every probe round, the bin each bin copies from: the same for every record."""
    rng = np.random.default_rng([seed, num_perm])
    return rng.integers(0, num_perm, size=(PROBES, num_perm))


def densify(sig: np.ndarray, present: np.ndarray, seed: int) -> None:
    """Fill the empty bins of records that have shingles, in place (see `oph_signatures`)."""
    filled = sig != EMPTY
    rows, cols = np.nonzero(~filled & present[:, None])
    if len(rows) == 0:
        return
    probes = probe_table(sig.shape[1], seed)
    original = sig.copy()
    for round_probes in probes:
        source = round_probes[cols]
        ok = filled[rows, source]
        sig[rows[ok], cols[ok]] = original[rows[ok], source[ok]]
        rows, cols = rows[~ok], cols[~ok]
        if len(rows) == 0:
            return
    # Practically unreachable (every probe missed); the first filled bin keeps it deterministic.
    first = np.argmax(filled[rows], axis=1)
    sig[rows, cols] = original[rows, first]


def estimated_jaccard(sig: np.ndarray, left: np.ndarray, right: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """The share of equal signature slots of each pair: an unbiased Jaccard estimate."""
    out = np.empty(len(left), dtype=np.float32)
    for number, s in enumerate(range(0, len(left), chunk)):
        eq = sig[left[s : s + chunk]] == sig[right[s : s + chunk]]
        out[s : s + chunk] = eq.mean(axis=1)
        if number % RELEASE_CHUNKS == RELEASE_CHUNKS - 1:
            release(sig)  # random rows: each maps its page and the pages around it
    return out
