"""The verification order of LSH candidate pairs, built out of core when the set is large.

Verification takes the distinct candidate pairs whose signature estimate is promising, best
estimate first and, within one estimate, in pair order (low row, then high row). A million
heavily duplicated records give ~400M raw pairs (bands x window x rows) for ~60M distinct ones;
at five million the distinct pairs alone outgrow memory. So, with a scratch folder and a large
set, the raw pairs are spilled to files by low-row range (each range fits in memory), each range
is deduplicated and estimated on its own, and the promising pairs are spilled again by estimate.
The estimate takes at most `num_perm + 1` values, so reading those files from the best estimate
down, each in pair order, gives the same order as one global sort; the in-memory path (small sets,
or no scratch folder) builds the same order without files.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curata.dedup.lsh import candidate_pairs, unique_codes
from curata.dedup.memmaps import release
from curata.dedup.minhash import estimated_jaccard
from curata.dedup.verify import sorted_unique

# Raw pairs per low-row range on disk (256 MiB of codes): what one range costs in memory.
RANGE_PAIRS = 1 << 25
# Range numbers are int16 (numpy sorts those by radix); at most 2**14 of them.
MAX_RANGES = 1 << 14
Pairs = tuple[np.ndarray, np.ndarray]


@dataclass
class CodeFiles:
    """Append-only int64 arrays by integer key: in memory, or one file per key under `folder`."""

    folder: Path | None
    parts: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def add(self, key: int, codes: np.ndarray) -> None:
        if len(codes) == 0:
            return
        if self.folder is None:
            self.parts.setdefault(key, []).append(codes)
            return
        self.parts.setdefault(key, [])
        with (self.folder / f"{key}.i64").open("ab") as handle:
            handle.write(np.ascontiguousarray(codes, dtype=np.int64).tobytes())

    def keys(self) -> list[int]:
        return sorted(self.parts)

    def read(self, key: int) -> np.ndarray:
        """The codes added under `key`, in the order added (a memory map when on disk)."""
        if self.folder is None:
            parts = self.parts.get(key, [])
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)
        path = self.folder / f"{key}.i64"
        if not path.exists() or path.stat().st_size == 0:
            return np.zeros(0, np.int64)
        return np.memmap(path, dtype=np.int64, mode="r")

    def drop(self, key: int) -> None:
        self.parts.pop(key, None)
        if self.folder is not None:
            (self.folder / f"{key}.i64").unlink(missing_ok=True)


@dataclass
class OrderedCandidates:
    """Distinct candidate pairs (`count`) and the promising ones by estimate level, best first."""

    count: int
    n: int
    levels: CodeFiles
    folder: Path | None

    def rounds(self, size: int) -> Iterator[Pairs]:
        """The promising pairs in verification order, `size` at a time (the last round shorter)."""
        pending: list[np.ndarray] = []
        waiting = 0
        for key in reversed(self.levels.keys()):
            codes = self.levels.read(key)
            for start in range(0, len(codes), size):
                piece = np.array(codes[start : start + size])
                pending.append(piece)
                waiting += len(piece)
                if waiting >= size:
                    merged = np.concatenate(pending)
                    yield self.decode(merged[:size])
                    rest = merged[size:]
                    pending, waiting = ([rest] if len(rest) else []), len(rest)
            del codes
            self.levels.drop(key)
        if waiting:
            yield self.decode(np.concatenate(pending))
        self.close()

    def decode(self, codes: np.ndarray) -> Pairs:
        return codes // self.n, codes % self.n

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def ordered_candidates(
    sig: np.ndarray,
    valid: np.ndarray,
    bands: int,
    rows: int,
    window: int,
    cutoff: float,
    scratch: Path | None = None,
    range_pairs: int | None = None,
) -> OrderedCandidates:
    """Distinct LSH candidates; those whose estimate is at least `cutoff` grouped by estimate."""
    n = len(sig)
    raw_bound = int(np.count_nonzero(valid)) * (window + 1) * bands
    range_pairs = range_pairs or RANGE_PAIRS
    ranges = min(MAX_RANGES, max(1, -(-raw_bound // range_pairs))) if scratch is not None else 1
    folder = None
    if ranges > 1 and scratch is not None:
        folder = scratch / "candidates"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "ranges").mkdir(parents=True)
        (folder / "levels").mkdir(parents=True)
    levels = CodeFiles(folder / "levels" if folder is not None else None)
    num_perm = sig.shape[1] if sig.ndim == 2 else 1
    count = 0
    for codes in distinct_by_range(candidate_pairs(sig, valid, bands, rows, window), n, ranges, folder):
        count += len(codes)
        left, right = codes // n, codes % n
        estimate = estimated_jaccard(sig, left, right)
        release(sig)
        promising = estimate >= cutoff
        level = np.rint(estimate[promising] * num_perm).astype(np.int64)
        chosen = codes[promising]
        if len(chosen) == 0:
            continue
        by_level = np.argsort(level, kind="stable")
        keys, starts = np.unique(level[by_level], return_index=True)
        for key, piece in zip(keys, np.split(chosen[by_level], starts[1:]), strict=True):
            levels.add(int(key), piece)
    return OrderedCandidates(count, n, levels, folder)


def distinct_by_range(
    pair_parts: Iterable[Pairs], n: int, ranges: int, folder: Path | None
) -> Iterator[np.ndarray]:
    """The distinct pair codes, sorted, one low-row range at a time (all at once when `ranges`
    is 1: the raw pairs are then deduplicated as they arrive, see `unique_codes`)."""
    if ranges == 1 or folder is None:
        yield unique_codes(iter(pair_parts), n)
        return
    spill = CodeFiles(folder / "ranges")
    for left, right in pair_parts:
        which = (left * ranges // n).astype(np.int16)
        order = np.argsort(which, kind="stable")
        counts = np.bincount(which, minlength=ranges)
        codes = (left * n + right)[order]
        for key, piece in enumerate(np.split(codes, np.cumsum(counts)[:-1])):
            spill.add(key, piece)
    for key in range(ranges):
        codes = sorted_unique(np.asarray(spill.read(key)))
        spill.drop(key)
        yield codes
