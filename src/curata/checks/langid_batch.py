"""py3langid's language identifier with its byte-automaton walk run for many texts at once.

py3langid finds its byte n-gram features by walking a DFA over the text one byte at a time in a
Python loop: ~70% of a call, and the `language_mismatch` check's main cost. The walk is sequential
along a text but independent across texts, so `prepare(texts)` steps all of a batch's texts through
the automaton together, one NumPy gather per byte position, and keeps each text's feature counts.
`classify` then scores a prepared text from those counts, through the library's own scoring code,
and walks an unprepared one as before. The counts are the same integers in the same (first seen)
order as the library's `Counter`, so the scores are bit for bit the library's
(`tests/checks/test_checks_unchanged.py` pins this on real text in several scripts).
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from typing import Any

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Texts walked together: bounds the (texts x bytes) matrices and their feature lists to tens of MB.
CHUNK = 512


def load_identifier() -> BatchLanguageIdentifier:
    identifier: BatchLanguageIdentifier = BatchLanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # The weights ship as float16; every call cast the ~160 rows it uses to float32 (numpy promotes
    # before the product), a third of a call. Casting the table once gives the same float32
    # products (float16 -> float32 is exact).
    identifier.nb_ptc = identifier.nb_ptc.astype(np.float32)
    return identifier


class BatchLanguageIdentifier(LanguageIdentifier):  # type: ignore[misc]  # py3langid has no types
    """`LanguageIdentifier` plus `prepare(texts)`; without it, it behaves exactly like its base."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared: dict[bytes, Counter[int] | None] = {}
        # Library versions with other internals still work, one text at a time.
        self.batchable = isinstance(self.tk_output, list) and hasattr(self, "_rowbase")
        if self.batchable:
            # A view of the library's array (9.8M entries), not a copy.
            self.next_move = np.frombuffer(self.tk_nextmove, dtype=np.dtype(self.tk_nextmove.typecode))
            self.row_base = np.asarray(self._rowbase, dtype=np.int64)
            self.output = np.asarray(self.tk_output, dtype=np.int32)
            self.n_features = int(self.output.max()) + 1

    def prepare(self, texts: list[str]) -> None:
        """Walk these texts now; `classify` of any of them then skips its walk. Replaces what an
        earlier call prepared, so memory stays one batch."""
        self.prepared = {}
        if not self.batchable:
            return
        # Similar lengths together, so a chunk's walk rarely steps past most of its texts' ends.
        encoded = sorted(dict.fromkeys(self._encode(t) for t in texts), key=len, reverse=True)
        for start in range(0, len(encoded), CHUNK):
            chunk = encoded[start : start + CHUNK]
            self.prepared.update(zip(chunk, self.walk(chunk), strict=True))

    def walk(self, texts: list[bytes]) -> list[Counter[int] | None]:
        """Feature counts per text (longest first), as py3langid's `visit_counts` gives them."""
        lengths = [len(t) for t in texts]
        width = max(lengths, default=0)
        grid = np.zeros((len(texts), width), dtype=np.uint8)
        for row, text in enumerate(texts):
            grid[row, : len(text)] = np.frombuffer(text, dtype=np.uint8)
        features = np.full((len(texts), width), -1, dtype=np.int32)
        state = np.zeros(len(texts), dtype=np.int64)
        active = len(texts)
        for position in range(width):
            while active and lengths[active - 1] <= position:
                active -= 1
            moved = self.next_move[self.row_base[state[:active]] + grid[:active, position]]
            state[:active] = moved
            features[:active, position] = self.output[moved]
        # Count (text, feature) pairs for the whole chunk at once, then list each text's features in
        # the order they were first seen, as a Counter fed byte by byte would.
        rows, positions = np.nonzero(features >= 0)
        keys = rows * self.n_features + features[rows, positions].astype(np.int64)
        unique, first, n = np.unique(keys, return_index=True, return_counts=True)
        seen = np.argsort(first)
        unique, n = unique[seen], n[seen]
        bounds = np.searchsorted(unique // self.n_features, np.arange(len(texts) + 1)).tolist()
        feature_ids, counts = (unique % self.n_features).tolist(), n.tolist()
        return [
            Counter(dict(zip(feature_ids[a:b], counts[a:b], strict=True))) if b > a else None
            for a, b in pairwise(bounds)
        ]

    def _raw_score(self, text: bytes) -> Any:
        visits = self.prepared.get(text)
        if visits:
            return self._sparse_score(visits, self.nb_ptc)
        return super()._raw_score(text)
