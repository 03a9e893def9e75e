"""Normalisation for comparing texts, never for writing them: two records that differ only in case,
whitespace, punctuation or Unicode compatibility forms compare equal."""

from __future__ import annotations

import unicodedata

import xxhash

# Every punctuation character lies below U+20000 (the supplementary ideographic planes hold none).
PUNCTUATION_TABLE = {cp: " " for cp in range(0x20000) if unicodedata.category(chr(cp)).startswith("P")}


def normalize_for_comparison(text: str) -> str:
    """NFKC, case-folded, punctuation dropped, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(PUNCTUATION_TABLE)
    return " ".join(text.split())


def normalized_digest(text: str) -> bytes:
    """A 16-byte xxh3-128 digest of the normalised text: the exact-duplicate key."""
    return xxhash.xxh3_128_digest(normalize_for_comparison(text).encode("utf-8"))
