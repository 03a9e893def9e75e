"""The exact near-duplicate join: every pair across groups at or above the threshold, none below."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa

from curata.dedup.shingles import shingle_texts
from curata.select.near_join import near_pairs_across


def edited_texts(seed: int = 5, bases: int = 12, copies: int = 8, words: int = 30) -> list[str]:
    """Copies of a few base texts with 0-9 random words replaced: Jaccards spread around 0.5."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"t{i}" for i in range(60)]  # a small vocabulary: many shared word pairs
    texts = []
    for _ in range(bases):
        base = list(rng.choice(vocabulary, words))
        for _ in range(copies):
            text = list(base)
            for p in rng.choice(words, rng.integers(0, 10), replace=False):
                text[p] = f"x{rng.integers(10**6)}"
            texts.append(" ".join(text))
    return texts


def brute_force(texts: list[str], groups: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    sets = [set(itertools.pairwise(t.split())) for t in texts]
    return {
        (i, j)
        for i, j in itertools.combinations(range(len(texts)), 2)
        if groups[i] != groups[j] and len(sets[i] & sets[j]) >= threshold * len(sets[i] | sets[j])
    }


def test_join_finds_exactly_the_pairs_brute_force_finds() -> None:
    texts = edited_texts()
    rng = np.random.default_rng(6)
    groups = rng.integers(0, 40, len(texts))  # arbitrary prior groups; pairs inside one are skipped
    shingles = shingle_texts(pa.array(texts), np.arange(len(texts)), len(texts), "word", 2)
    for threshold in (0.4, 0.5, 0.7):
        left, right, checked = near_pairs_across(shingles, groups, threshold, min_shingles=1)
        expected = brute_force(texts, groups, threshold)
        assert expected, "the crafted set must have pairs to find"
        assert set(zip(left.tolist(), right.tolist(), strict=True)) == expected
        assert checked < len(texts) * (len(texts) - 1) // 2  # prefix filtering prunes candidates


def test_short_records_are_left_to_exact_dedup() -> None:
    texts = ["a b c", "a b c d", "one two three four five six seven eight nine ten eleven twelve"] * 2
    shingles = shingle_texts(pa.array(texts), np.arange(6), 6, "word", 2)
    left, right, _ = near_pairs_across(shingles, np.arange(6), 0.5, min_shingles=10)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(2, 5)]
