"""Normalised-text digests of each dedup key, so exact dedup compares hashes, not texts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash

from curata.normalize import normalize_for_comparison
from curata.records import DEDUP_KEYS, PROMPT_ROLES, RESPONSE_ROLES
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


def side_digests(turns: list[dict[str, str]]) -> tuple[bytes, bytes, bytes]:
    """Digests of the normalised conversation, prompt and response sides.

    Each turn is normalised once: normalising turns joined by blank lines equals joining the
    non-empty normalised turns with single spaces, since whitespace collapses and no character
    composes across a line break.
    """
    normalised = [(t["role"], normalize_for_comparison(t["content"])) for t in turns]
    conversation = " ".join(text for _, text in normalised if text)
    prompt = " ".join(text for role, text in normalised if text and role in PROMPT_ROLES)
    response = " ".join(text for role, text in normalised if text and role in RESPONSE_ROLES)
    return tuple(xxhash.xxh3_128_digest(s.encode("utf-8")) for s in (conversation, prompt, response))  # type: ignore[return-value]


@register_stage
class Normalize(RowStage):
    name = "normalize"
    description = "hash the normalised text (case, whitespace, punctuation, NFKC) of each dedup key"

    def reads(self) -> frozenset[str]:
        return frozenset({"turns"})

    def writes(self) -> dict[str, pa.DataType]:
        return {digest_column(key): DIGEST_TYPE for key in DEDUP_KEYS}

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        digests = [side_digests(turns) for turns in batch.column("turns").to_pylist()]
        return {
            digest_column(key): pa.array([d[i] for d in digests], DIGEST_TYPE)
            for i, key in enumerate(DEDUP_KEYS)
        }
