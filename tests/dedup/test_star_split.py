"""Splitting chained near-duplicate components into stars (`curata.dedup.near.split_stars`)."""

from __future__ import annotations

import numpy as np

from curata.dedup.near import split_stars
from curata.stages.dedup_exact import representatives


def first_of_cluster(labels: np.ndarray) -> np.ndarray:
    """The stage's pick when there is no quality column."""
    return representatives(labels, None)


def path_similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Records on a line: neighbours are near duplicates (0.8), anything further apart is not (0.1)."""
    return np.where(np.abs(left - right) <= 1, 0.8, 0.1)


def test_a_long_chain_is_split_until_no_two_kept_records_are_near_duplicates() -> None:
    """A chain of 40 needs 20 rounds (each round settles one neighbour of the new kept record);
    stopping after a few rounds would keep adjacent records, which are near duplicates."""
    n = 40
    labels, to_kept = split_stars(np.zeros(n, dtype=np.int64), path_similarity, 0.5, first_of_cluster)
    kept = np.flatnonzero(first_of_cluster(labels) == np.arange(n))
    assert list(kept) == list(range(0, n, 2))
    assert not np.any(path_similarity(kept[:-1], kept[1:]) >= 0.5)
    dropped = np.setdiff1d(np.arange(n), kept)
    assert np.all(path_similarity(dropped, first_of_cluster(labels)[dropped]) >= 0.5)
    assert np.all(to_kept[dropped] == np.float32(0.8))


def test_a_spent_pair_budget_keeps_the_unsettled_records_rather_than_dropping_them() -> None:
    n = 40
    labels, to_kept = split_stars(
        np.zeros(n, dtype=np.int64), path_similarity, 0.5, first_of_cluster, pairs_per_row=1
    )
    reps = first_of_cluster(labels)
    dropped = np.flatnonzero(reps != np.arange(n))
    # Every dropped record is similar to the record kept for it; the rest stay, each on its own.
    assert len(dropped) > 0
    assert np.all(path_similarity(dropped, reps[dropped]) >= 0.5)
    assert len(dropped) < n // 2
    assert np.all(to_kept[reps == np.arange(n)] == 1.0)


def test_members_that_fail_split_along_the_verified_edges_between_them() -> None:
    """0 is kept and 1 is like it; 2 and 3 hang off 1, 4 off 2 and 5 off 3. Those four fail
    against 0; the verified edges among them make two groups, {2, 4} and {3, 5}, settled in one
    more round. Without edges they are one group and need two."""
    similar = {(0, 1), (1, 2), (1, 3), (2, 4), (3, 5)}
    calls: list[int] = []

    def similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        calls.append(len(left))
        pairs = zip(left.tolist(), right.tolist(), strict=True)
        return np.array([0.8 if (min(p), max(p)) in similar else 0.1 for p in pairs])

    edges = (np.array([0, 1, 1, 2, 3]), np.array([1, 2, 3, 4, 5]))
    labels, _ = split_stars(np.zeros(6, dtype=np.int64), similarity, 0.5, first_of_cluster, edges=edges)
    assert list(np.flatnonzero(first_of_cluster(labels) == np.arange(6))) == [0, 2, 3]
    assert len(calls) == 2
    calls.clear()
    labels, _ = split_stars(np.zeros(6, dtype=np.int64), similarity, 0.5, first_of_cluster)
    assert list(np.flatnonzero(first_of_cluster(labels) == np.arange(6))) == [0, 2, 3]
    assert len(calls) == 3
