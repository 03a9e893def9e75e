"""Normalised-text digests of each dedup key, so exact dedup compares hashes, not texts."""

from __future__ import annotations

import pyarrow as pa

from curata.normalize import normalized_digests
from curata.records import DEDUP_KEYS, side_texts
from curata.stages.base import RowStage
from curata.stages.registry import register_stage

DIGEST_TYPE = pa.binary(16)


def digest_column(key: str) -> str:
    return f"norm_hash_{key}"


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
