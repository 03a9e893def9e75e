"""Is a generated text already in the data? Normalised exact match, then a cheap near check.

The near check compares word-bigram sets (Jaccard, 0.6 by default: instructions are short, and
one changed word moves a short text's 3-gram Jaccard well below the usual 0.7). Candidates are found
through a bottom-k sketch (the k smallest shingle hashes), so each new text is compared with only
the few existing texts that share a sketch value instead of with all of them.
"""

from __future__ import annotations

from collections import defaultdict

import xxhash

from curata.normalize import normalize_for_comparison, normalized_digest


def shingles(text: str, n: int = 2) -> frozenset[int]:
    words = normalize_for_comparison(text).split()
    if len(words) < n:
        return frozenset({xxhash.xxh3_64_intdigest(" ".join(words).encode())}) if words else frozenset()
    return frozenset(
        xxhash.xxh3_64_intdigest(" ".join(words[i : i + n]).encode()) for i in range(len(words) - n + 1)
    )


class NearDuplicateIndex:
    def __init__(self, threshold: float = 0.6, sketch: int = 8) -> None:
        self.threshold = threshold
        self.sketch = sketch
        self.exact: set[bytes] = set()
        self.sets: list[frozenset[int]] = []
        self.buckets: dict[int, list[int]] = defaultdict(list)

    def add(self, text: str) -> None:
        self.exact.add(normalized_digest(text))
        grams = shingles(text)
        index = len(self.sets)
        self.sets.append(grams)
        for value in sorted(grams)[: self.sketch]:
            self.buckets[value].append(index)

    def match(self, text: str) -> str | None:
        """'exact' or 'near' when `text` duplicates an indexed text, else None."""
        if normalized_digest(text) in self.exact:
            return "exact"
        grams = shingles(text)
        if not grams:
            return None
        candidates = {i for value in sorted(grams)[: self.sketch] for i in self.buckets.get(value, ())}
        for i in candidates:
            other = self.sets[i]
            if len(grams & other) / len(grams | other) >= self.threshold:
                return "near"
        return None

    def __len__(self) -> int:
        return len(self.sets)
