"""The embedder contract: texts in, one L2-normalised float32 row per text out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit vectors of a fixed width `dim`."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray:
        """A float32 array of shape (len(texts), dim) whose rows have L2 norm 1 (or 0 for no text)."""
        ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to norm 1; all-zero rows (empty text) stay zero instead of becoming NaN."""
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.asarray(np.divide(out, norms, out=np.zeros_like(out), where=norms > 0), dtype=np.float32)
