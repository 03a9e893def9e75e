"""Train / validation / test splits with no leakage: every duplicate cluster (exact, near,
semantic) goes whole into one split, and splits are stratified by label or cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

SPLITS = ("train", "validation", "test")


def linked_groups(n: int, cluster_columns: Sequence[np.ndarray]) -> np.ndarray:
    """A group id per row: rows sharing a cluster id in any column are in one group (transitively).

    Cluster columns hold a cluster id per row, or -1 for a row without duplicates.
    """
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for column in cluster_columns:
        clusters = np.asarray(column, dtype=np.int64)
        members = np.flatnonzero(clusters >= 0)
        if len(members) == 0:
            continue
        # Link each member to the first row seen with its cluster id: a star per cluster.
        _, first = np.unique(clusters[members], return_index=True)
        _, inverse = np.unique(clusters[members], return_inverse=True)
        rows.append(members)
        cols.append(members[first][inverse])
    if not rows:
        return np.arange(n, dtype=np.int64)
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def assign_splits(
    groups: np.ndarray,
    strata: Sequence[str | None] | None,
    fractions: Mapping[str, float],
    seed: int = 0,
) -> np.ndarray:
    """A split name per row. Whole groups are dealt, in a seeded random order within each stratum,
    to the split furthest below its target share of that stratum."""
    n = len(groups)
    names = list(fractions)
    target = np.array([fractions[s] for s in names], dtype=np.float64)
    target = target / target.sum()
    stratum_of_row = np.asarray(
        ["" if strata is None or strata[i] is None else str(strata[i]) for i in range(n)], dtype=object
    )
    unique_groups, first_row, group_index = np.unique(groups, return_index=True, return_inverse=True)
    sizes = np.bincount(group_index, minlength=len(unique_groups))
    # A group is stratified by the stratum of its first row.
    group_stratum = stratum_of_row[first_row]
    rng = np.random.default_rng(seed)
    split_of_group = np.empty(len(unique_groups), dtype=object)
    for stratum in sorted(set(group_stratum.tolist())):
        members = np.flatnonzero(group_stratum == stratum)
        members = members[rng.permutation(len(members))]
        # Large groups first, so they do not overshoot a small split at the end.
        members = members[np.argsort(-sizes[members], kind="stable")]
        filled = np.zeros(len(names))
        total = sizes[members].sum()
        for g in members:
            deficit = target * total - filled
            choice = int(np.argmax(deficit))
            split_of_group[g] = names[choice]
            filled[choice] += sizes[g]
    return np.asarray(split_of_group[group_index], dtype=object)


def cross_split_links(splits: np.ndarray, cluster_columns: Mapping[str, np.ndarray]) -> dict[str, int]:
    """For each cluster column, how many clusters have members in more than one split (0 = no leak)."""
    out: dict[str, int] = {}
    assigned = np.asarray([s is not None for s in splits])
    for name, column in cluster_columns.items():
        clusters = np.asarray(column, dtype=np.int64)
        mask = (clusters >= 0) & assigned
        seen: dict[int, str] = {}
        leaking: set[int] = set()
        for cluster, split in zip(clusters[mask].tolist(), splits[mask].tolist(), strict=True):
            if seen.setdefault(cluster, split) != split:
                leaking.add(cluster)
        out[name] = len(leaking)
    return out
