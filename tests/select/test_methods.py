"""Selection methods: DEITA's published walk, k-center coverage, quotas with caps."""

from __future__ import annotations

import numpy as np
import pytest

from curata.select import methods
from curata.select.methods import deita_select, k_center_greedy, quotas, stratified_quota


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def near_copy(base: np.ndarray, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    return unit(base + noise * rng.standard_normal(base.shape))


def crafted_pairs() -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Three near-duplicate pairs (cosine ~0.99) and two unique records, in 16 dimensions."""
    rng = np.random.default_rng(0)
    bases = unit(rng.standard_normal((5, 16)))
    rows = [
        bases[0],
        near_copy(bases[0], rng),
        bases[1],
        near_copy(bases[1], rng),
        bases[2],
        near_copy(bases[2], rng),
        bases[3],
        bases[4],
    ]
    scores = np.array([0.9, 0.95, 0.7, 0.6, 0.5, 0.8, 0.4, 0.3])
    return np.stack(rows), scores, [(0, 1), (2, 3), (4, 5)]


def nearest_neighbour_thresholding(
    scores: np.ndarray, embeddings: np.ndarray, budget: int, threshold: float
) -> np.ndarray:
    """What distilabel's DeitaFiltering does: drop every row whose nearest neighbour over the whole
    set is at or above the threshold, then take the best by score."""
    sims = unit(embeddings) @ unit(embeddings).T
    np.fill_diagonal(sims, -1.0)
    keep = np.flatnonzero(sims.max(axis=1) < threshold)
    return keep[np.argsort(-scores[keep], kind="stable")][:budget]


def test_deita_keeps_exactly_one_of_each_pair_and_fills_the_budget() -> None:
    embeddings, scores, pairs = crafted_pairs()
    chosen = set(deita_select(scores, embeddings, budget=5, threshold=0.9).tolist())
    assert len(chosen) == 5
    for a, b in pairs:
        assert len(chosen & {a, b}) == 1
    # The better-scoring member of each pair is the one kept.
    assert chosen == {1, 2, 5, 6, 7}


def test_nearest_neighbour_thresholding_drops_both_copies_and_misses_the_budget() -> None:
    embeddings, scores, pairs = crafted_pairs()
    chosen = set(nearest_neighbour_thresholding(scores, embeddings, budget=5, threshold=0.9).tolist())
    assert chosen == {6, 7}
    assert all(not (chosen & {a, b}) for a, b in pairs)


def test_deita_compares_only_with_records_already_selected() -> None:
    """A record similar to a skipped record (but not to a selected one) is still taken."""
    a = np.array([1.0, 0.0, 0.0])
    angle = np.deg2rad(20)  # cos 20° = 0.94 between neighbours, cos 40° = 0.77 between the ends
    a1 = np.array([np.cos(angle), np.sin(angle), 0.0])
    a2 = np.array([np.cos(2 * angle), np.sin(2 * angle), 0.0])
    chosen = deita_select(np.array([0.9, 0.8, 0.7]), np.stack([a, a1, a2]), budget=3, threshold=0.9)
    assert chosen.tolist() == [0, 2]


def test_deita_walks_by_descending_score_and_stops_at_the_budget() -> None:
    rng = np.random.default_rng(1)
    embeddings = unit(rng.standard_normal((50, 32)))
    scores = rng.random(50)
    chosen = deita_select(scores, embeddings, budget=10, threshold=0.99)
    assert chosen.tolist() == np.argsort(-scores)[:10].tolist()


def one_by_one(scores: np.ndarray, embeddings: np.ndarray, budget: int, threshold: float) -> list[int]:
    vectors = unit(embeddings)
    chosen: list[int] = []
    for row in np.lexsort((np.arange(len(scores)), -scores)):
        if len(chosen) == budget:
            break
        if not chosen or (vectors[chosen] @ vectors[row]).max() < threshold:
            chosen.append(int(row))
    return chosen


@pytest.mark.parametrize("block", [1, 7, 64])
def test_blocked_walk_equals_the_one_by_one_walk(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(methods, "DEITA_BLOCK", block)
    rng = np.random.default_rng(2)
    centers = unit(rng.standard_normal((20, 8)))
    embeddings = np.stack([near_copy(centers[i % 20], rng, 0.3) for i in range(300)])
    scores = np.round(rng.random(300), 2)  # ties included
    assert deita_select(scores, embeddings, 60, 0.85).tolist() == one_by_one(scores, embeddings, 60, 0.85)


def test_k_center_greedy_covers_every_cluster_before_repeating_one() -> None:
    rng = np.random.default_rng(3)
    centers = unit(rng.standard_normal((6, 32)))
    embeddings = np.stack([near_copy(centers[i % 6], rng, 0.05) for i in range(600)])
    chosen = k_center_greedy(embeddings, 6)
    assert sorted(int(c) % 6 for c in chosen) == list(range(6))


def test_quotas_are_proportional_or_balanced_and_respect_caps() -> None:
    sizes = {"pos": 900, "neg": 100}
    assert quotas(sizes, 100, balance=False, cap=None) == {"pos": 90, "neg": 10}
    assert quotas(sizes, 100, balance=True, cap=None) == {"pos": 50, "neg": 50}
    assert quotas(sizes, 300, balance=True, cap=None) == {"pos": 200, "neg": 100}
    assert quotas(sizes, 300, balance=True, cap=120) == {"pos": 120, "neg": 100}


def test_stratified_quota_takes_the_best_of_each_group() -> None:
    groups = ["a"] * 6 + ["b"] * 4
    scores = np.array([0.1, 0.9, 0.5, 0.3, 0.8, 0.2, 0.4, 0.95, 0.05, 0.6])
    chosen = stratified_quota(groups, scores, 4, balance=True)
    assert sorted(chosen.tolist()) == [1, 4, 7, 9]
