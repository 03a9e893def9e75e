"""Normalised-text digests of each dedup key, so exact dedup compares hashes, not texts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curata.normalize import normalized_digests
from curata.records import DEDUP_KEYS, side_texts
from curata.stages.base import RowStage
from curata.stages.registry import register_stage

DIGEST_TYPE = pa.binary(16)


def digest_column(key: str) -> str:
    return f"norm_hash_{key}"


def digest_matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A digest column as an (n, 16) uint8 array, read from the Arrow buffers without copies per row.

    Digests are never null (every record has each side, possibly empty).
    """
    parts = []
    for chunk in column.chunks:
        data = chunk.buffers()[1]
        raw = np.frombuffer(data, dtype=np.uint8, count=16 * (chunk.offset + len(chunk)))
        parts.append(raw[16 * chunk.offset :].reshape(-1, 16))
    return np.concatenate(parts) if parts else np.zeros((0, 16), dtype=np.uint8)


@register_stage
class Normalize(RowStage):
    name = "normalize"
    description = "hash the normalised text (case, whitespace, punctuation, NFKC) of each dedup key"

    def reads(self) -> frozenset[str]:
        return frozenset({"turns"})

    def writes(self) -> dict[str, pa.DataType]:
        return {digest_column(key): DIGEST_TYPE for key in DEDUP_KEYS}

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {
            digest_column(key): pa.array(normalized_digests(side_texts(batch, key)), DIGEST_TYPE)
            for key in DEDUP_KEYS
        }
