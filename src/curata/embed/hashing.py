"""Feature hashing of words and word pairs: no model, no download, deterministic.

Too crude for real semantic dedup (it sees shared words, not meaning), but it lets tests and tiny
runs exercise every embedding stage in milliseconds.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import xxhash

from curata.embed.base import unit_rows

WORD = re.compile(r"\w+")


class HashingEmbedder:
    def __init__(self, dim: int = 256, seed: int = 0) -> None:
        self._dim = dim
        self.seed = seed

    @property
    def dim(self) -> int:
        return self._dim

    def features(self, text: str) -> list[str]:
        words = WORD.findall(text.lower())
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self.features(text):
                h = xxhash.xxh64_intdigest(feature.encode("utf-8"), seed=self.seed)
                out[row, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
        return unit_rows(out)
