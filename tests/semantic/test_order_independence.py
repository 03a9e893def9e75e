"""The pieces of semantic_dedup that both engines must compute bit for bit whatever the blocks:
the set mean (exact integer sums) and the nearest centroids (row by row)."""

from __future__ import annotations

import math

import numpy as np

from curata.dedup.semantic import (
    assign_centroids,
    centred,
    exponent_sums,
    mean_from_sums,
    nearest_centroids,
    set_mean,
    unique_pairs,
)


def awkward(n: int = 5000, d: int = 24) -> np.ndarray:
    """Values of very different sizes (where float32 sums depend on their order), tiny and
    subnormal values, negatives and zeros."""
    rng = np.random.default_rng(2)
    v = rng.normal(size=(n, d)) * 10.0 ** rng.integers(-8, 8, size=(n, d))
    v[::7, 3] = 1e-42
    v[::11, 5] = 0.0
    return v.astype(np.float32)


def test_the_set_mean_is_exact_and_the_same_for_any_split_and_order() -> None:
    v = awkward()
    mean = set_mean(v)
    exact = np.array([math.fsum(map(float, v[:, j])) / len(v) for j in range(v.shape[1])])
    # fsum is the exactly rounded sum; one more rounding (to float32) at most.
    assert np.allclose(mean[0], exact.astype(np.float32), rtol=2e-7, atol=0)
    rng = np.random.default_rng(3)
    for _ in range(3):
        order = rng.permutation(len(v))
        cuts = np.sort(rng.choice(len(v), 4, replace=False))
        sums = sum(exponent_sums(part) for part in np.split(v[order], cuts))
        assert mean_from_sums(np.asarray(sums), len(v)).tobytes() == mean.tobytes()


def test_centring_a_block_with_the_set_mean_equals_centring_the_set() -> None:
    v = awkward(2000)
    whole = centred(v)
    blocks = np.concatenate([centred(v[i : i + 333], set_mean(v)) for i in range(0, len(v), 333)])
    assert blocks.tobytes() == whole.tobytes()


def test_nearest_centroids_do_not_depend_on_the_rows_searched_together() -> None:
    rng = np.random.default_rng(4)
    v = rng.normal(size=(3000, 48)).astype(np.float32)
    c = rng.normal(size=(40, 48)).astype(np.float32)
    c[7] = c[3]  # an exact tie: the lower centroid index wins
    whole = assign_centroids(v, c, 2)
    pieces = np.concatenate([assign_centroids(v[i : i + 7], c, 2) for i in range(0, 3000, 7)])
    assert (whole == pieces).all()
    assert not (whole[:, 0] == 7).any() and (whole[whole[:, 0] == 3, 1] == 7).all()
    assert (whole[:, 0] == 3).any()
    # Same choice as the faiss float32 search wherever that one has no near tie.
    assert (whole[:, 0] == nearest_centroids(v, c, 1)[:, 0]).mean() > 0.99


def test_a_pair_found_twice_keeps_its_highest_similarity_in_any_order() -> None:
    left, right = np.array([5, 1, 2, 1]), np.array([2, 4, 5, 4])
    sims = np.array([0.96, 0.97, 0.961, 0.969], dtype=np.float32)
    for order in ([0, 1, 2, 3], [3, 2, 1, 0]):
        pairs = unique_pairs(left[order], right[order], sims[order])
        assert pairs.left.tolist() == [1, 2] and pairs.right.tolist() == [4, 5]
        assert pairs.similarity.tolist() == [np.float32(0.97), np.float32(0.961)]
