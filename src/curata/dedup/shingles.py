"""Shingle hashes of many texts at once, computed from the Arrow text buffer in numpy.

No Python string is built per word or per shingle (that is what makes the usual MinHash libraries
slow): the text bytes are lower-cased by Arrow, split into words by a byte class table, each word is
hashed by a polynomial summed with `np.add.reduceat`, and `n` consecutive word hashes (or `n`
consecutive bytes) are combined into one shingle hash with array arithmetic.

Words are runs of ASCII letters and digits or of non-ASCII bytes (so every script counts as word
characters); everything else separates words. Shingles never cross records; they may cross the
turns of one record, which are read as one text.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ShingleKind = Literal["word", "char"]

U64 = np.uint64
MIX1 = U64(0xBF58476D1CE4E5B9)
MIX2 = U64(0x94D049BB133111EB)
WORD_PRIME = U64(0x100000001B3)
SHINGLE_PRIME = U64(0x9E3779B97F4A7C15)
PIECE_BYTES = 1 << 20

WORD_PRIME_INVERSE = U64(pow(int(WORD_PRIME), -1, 2**64))
# P^i and P^-i tables, shared by every batch of a process (see `power_tables`).
_TABLES = [np.ones(0, dtype=U64), np.ones(0, dtype=U64)]


@dataclass(frozen=True)
class Shingles:
    """Shingle hashes of `n_records` records: record r owns `hashes[offsets[r]:offsets[r + 1]]`."""

    hashes: np.ndarray
    offsets: np.ndarray

    @property
    def n_records(self) -> int:
        return len(self.offsets) - 1

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def mix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads every input bit over the whole 64-bit word."""
    z = values ^ (values >> U64(30))
    z *= MIX1
    z ^= z >> U64(27)
    z *= MIX2
    z ^= z >> U64(31)
    return np.asarray(z)


def text_bytes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The lower-cased UTF-8 bytes of the texts and each text's start offset into them."""
    lowered = pc.utf8_lower(pc.fill_null(texts, ""))
    if isinstance(lowered, pa.ChunkedArray):
        lowered = lowered.combine_chunks()
    lowered = lowered.cast(pa.large_string())
    offsets = np.frombuffer(lowered.buffers()[1], dtype=np.int64)[
        lowered.offset : lowered.offset + len(lowered) + 1
    ]
    data = (
        np.frombuffer(lowered.buffers()[2], dtype=np.uint8) if lowered.buffers()[2] else np.zeros(0, np.uint8)
    )
    base = int(offsets[0]) if len(offsets) else 0
    end = int(offsets[-1]) if len(offsets) else 0
    return data[base:end], offsets - base


def power_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i (mod 2^64) for i < size, grown on demand and kept for the next batch."""
    if len(_TABLES[0]) < size:
        length = 1 << max(size - 1, 1).bit_length()
        steps = np.full(length, WORD_PRIME, dtype=U64)
        steps[0] = 1
        inverse_steps = np.full(length, WORD_PRIME_INVERSE, dtype=U64)
        inverse_steps[0] = 1
        _TABLES[0] = np.cumprod(steps, dtype=U64)
        _TABLES[1] = np.cumprod(inverse_steps, dtype=U64)
    return _TABLES[0], _TABLES[1]


def word_bytes(data: np.ndarray) -> np.ndarray:
    """Which bytes belong to words: ASCII letters and digits and every byte of a non-ASCII letter."""
    return (data >= 0x80) | ((data | np.uint8(0x20)) - np.uint8(97) < 26) | (data - np.uint8(48) < 10)


def word_hashes(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash per word and the index of the text each word belongs to.

    A word's hash is its polynomial sum(b_i * P^(i - start)), read off one prefix sum over all the
    bytes: (H[end + 1] - H[start]) * P^-start, which is exact in arithmetic mod 2^64 (P is odd).
    """
    is_word = word_bytes(data)
    if not is_word.any():
        return np.zeros(0, U64), np.zeros(0, np.int64)
    starts_mask = is_word.copy()
    starts_mask[1:] &= ~is_word[:-1]
    ends_mask = is_word.copy()
    ends_mask[:-1] &= ~is_word[1:]
    text_starts = offsets[:-1][np.diff(offsets) > 0]
    starts_mask[text_starts] = is_word[text_starts]
    inner = text_starts[text_starts > 0] - 1
    ends_mask[inner] = is_word[inner]
    starts, ends = np.flatnonzero(starts_mask), np.flatnonzero(ends_mask)
    powers, inverses = power_tables(len(data) + 1)
    prefix = np.empty(len(data) + 1, dtype=U64)
    prefix[0] = 0
    weighted = data.astype(U64)
    weighted *= powers[: len(data)]
    np.cumsum(weighted, out=prefix[1:])
    sums = (prefix[ends + 1] - prefix[starts]) * inverses[starts]
    text_of_word = np.searchsorted(offsets, starts, side="right") - 1
    return mix64(sums), text_of_word


def combine_ngrams(hashes: np.ndarray, n: int) -> np.ndarray:
    """For each start i, a hash of hashes[i : i + n] (as many as there are full windows)."""
    out = hashes[: len(hashes) - n + 1].copy()
    for k in range(1, n):
        out *= SHINGLE_PRIME
        out += hashes[k : len(hashes) - n + 1 + k]
    return mix64(out)


def group_ngrams(units: np.ndarray, owner: np.ndarray, n_records: int, n: int) -> Shingles:
    """n-gram shingles of per-record unit hashes (units of one record are contiguous, in order).

    A record with fewer than `n` units (but at least one) gets one shingle of all its units, so
    short texts still compare.
    """
    counts = np.bincount(owner, minlength=n_records) if len(owner) else np.zeros(n_records, np.int64)
    if n <= 1 or len(units) == 0:
        return Shingles(units, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
    grams = combine_ngrams(units, n) if len(units) >= n else np.zeros(0, U64)
    gram_owner = owner[: len(grams)]
    whole = gram_owner == owner[n - 1 : n - 1 + len(grams)]
    grams, gram_owner = grams[whole], gram_owner[whole]
    short = np.flatnonzero((counts > 0) & (counts < n))
    if len(short):
        first = np.concatenate([[0], np.cumsum(counts)])[short]
        acc = np.zeros(len(short), U64)
        for k in range(n - 1):
            has = counts[short] > k
            acc[has] = acc[has] * SHINGLE_PRIME + units[first[has] + k]
        grams = np.concatenate([grams, mix64(acc)])
        gram_owner = np.concatenate([gram_owner, short])
        order = np.argsort(gram_owner, kind="stable")
        grams, gram_owner = grams[order], gram_owner[order]
    per_record = np.bincount(gram_owner, minlength=n_records)
    return Shingles(grams, np.concatenate([[0], np.cumsum(per_record)]).astype(np.int64))


def char_units(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bytes with every run of non-word bytes folded to one space, and the text of each byte."""
    is_word = word_bytes(data)
    folded = np.where(is_word, data, np.uint8(0x20))
    text_of_byte = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    keep = is_word.copy()
    keep[1:] |= is_word[:-1] & (text_of_byte[1:] == text_of_byte[:-1])
    return folded[keep].astype(U64), text_of_byte[keep]


def shingle_texts(
    texts: pa.Array, record_of_text: np.ndarray, n_records: int, kind: ShingleKind, n: int
) -> Shingles:
    """Shingle hashes per record; a record's texts (its turns) must be contiguous and in order.

    Large inputs are cut into pieces of about `PIECE_BYTES` of text at record boundaries: fresh
    large arrays cost a page fault per 4 KiB, which dominates numpy work on this kind of machine,
    while pieces this size reuse the allocator's memory.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
    sizes = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    record_bytes = np.bincount(record_of_text, weights=sizes, minlength=n_records) if len(sizes) else None
    if record_bytes is None or record_bytes.sum() <= PIECE_BYTES:
        return shingle_piece(texts, record_of_text, n_records, kind, n)
    cuts = np.searchsorted(np.cumsum(record_bytes), np.arange(PIECE_BYTES, record_bytes.sum(), PIECE_BYTES))
    bounds = np.unique(np.concatenate([[0], cuts + 1, [n_records]]).clip(0, n_records))
    hashes, counts = [], []
    for lo, hi in itertools.pairwise(bounds):
        first, last = np.searchsorted(record_of_text, [lo, hi])
        piece = shingle_piece(
            texts.slice(int(first), int(last - first)), record_of_text[first:last] - lo, int(hi - lo), kind, n
        )
        hashes.append(piece.hashes)
        counts.append(piece.counts())
    all_counts = np.concatenate(counts)
    return Shingles(np.concatenate(hashes), np.concatenate([[0], np.cumsum(all_counts)]).astype(np.int64))


def shingle_piece(
    texts: pa.Array, record_of_text: np.ndarray, n_records: int, kind: ShingleKind, n: int
) -> Shingles:
    data, offsets = text_bytes(texts)
    if kind == "word":
        units, text_of_unit = word_hashes(data, offsets)
    else:
        units, text_of_unit = char_units(data, offsets)
        units = mix64(units + U64(1)) if n == 1 else units
    owner = record_of_text[text_of_unit] if len(text_of_unit) else np.zeros(0, np.int64)
    return group_ngrams(units, owner.astype(np.int64), n_records, n)
