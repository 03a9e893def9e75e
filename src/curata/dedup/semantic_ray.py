"""Semantic duplicates on the Ray engine: the local steps (`curata.dedup.semantic`) as
distributed operations, so the pairs, clusters and similarities are the local engine's.

1. Mean (`map_batches`): each block's exact `exponent_sums`; the driver adds the small
   per-block tables (integers, so any order gives the local mean bit for bit).
2. Centroids: the driver trains k-means (`train_centroids`) on the rows `sample_rows` picks (at
   most KMEANS_SAMPLE), fetched centred, in the local training order.
3. Assignment (`map_batches`): each block's rows are centred with the set's mean and assigned to
   their ASSIGNMENTS nearest centroids (`assign_centroids`, the same row by row whatever the
   block); one row per (record, centroid) carries the centred vector.
4. Pairs (`group_by_key` on the centroid): each task takes a centroid's rows in row order, splits
   an oversized one as the local engine does (`split_partition`) and runs `pairs_within`. Only
   the pairs above the threshold reach the driver, which keeps each pair once (`unique_pairs`).
A set of at most `partition_size` rows is one partition: all its rows go to one task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from curata.dedup.semantic import (
    ASSIGNMENTS,
    EXP_BINS,
    SimilarPairs,
    assign_centroids,
    centred,
    exponent_sums,
    mean_from_sums,
    one_thread,
    pairs_within,
    partition_count,
    sample_rows,
    split_partition,
    train_centroids,
    unique_pairs,
)
from curata.embed.base import unit_rows

VEC, PART = "_vec", "_part"


def matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The (rows, d) float32 matrix of a fixed-size list column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    width = array.type.list_size
    return np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, width)


def vector_column(vectors: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), vectors.shape[1])


@dataclass
class Prepared:
    """How each row becomes the vector that is compared: the set's mean (None: no centring)."""

    mean: np.ndarray | None

    def vectors(self, column: pa.ChunkedArray) -> np.ndarray:
        raw = matrix(column)
        return centred(raw, self.mean) if self.mean is not None else unit_rows(raw)


def distributed_mean(rows: Any, column: str) -> tuple[np.ndarray | None, int]:
    """The set's mean (as the local `set_mean`) and row count, from per-block exact sums."""

    def block_sums(batch: pa.Table) -> pa.Table:
        sums = exponent_sums(matrix(batch.column(column)))
        present = np.flatnonzero(sums.any(axis=1))
        counts = np.zeros(len(present), np.int64)
        counts[:1] = batch.num_rows
        return pa.table(
            {
                "bin": pa.array(present.astype(np.int64)),
                "rows": pa.array(counts),
                "sums": pa.array(list(sums[present]), pa.list_(pa.int64())),
            }
        )

    total: np.ndarray | None = None
    n = 0
    sums_out = rows.map_batches(block_sums, batch_format="pyarrow", batch_size=None)
    for batch in sums_out.iter_batches(batch_format="pyarrow", batch_size=None):
        if batch.num_rows == 0:
            continue
        n += int(np.sum(batch.column("rows").to_numpy()))
        block = np.asarray(batch.column("sums").to_pylist(), dtype=np.int64)
        if total is None:
            total = np.zeros((EXP_BINS, block.shape[1]), np.int64)
        np.add.at(total, batch.column("bin").to_numpy(), block)
    return (None if total is None else mean_from_sums(total, n)), n


def sample_matrix(rows: Any, column: str, prepared: Prepared, n: int, seed: int) -> np.ndarray:
    """The centred rows k-means trains on, in the local training order (bounded: KMEANS_SAMPLE)."""
    chosen = sample_rows(n, seed)
    wanted = None if chosen is None else np.sort(chosen)

    def pick(batch: pa.Table) -> pa.Table:
        numbers = batch.column("_row").to_numpy()
        keep = np.ones(len(numbers), bool) if wanted is None else np.isin(numbers, wanted)
        taken = batch.filter(pa.array(keep))
        return pa.table(
            {"_row": taken.column("_row"), VEC: vector_column(prepared.vectors(taken.column(column)))}
        )

    picked = rows.map_batches(pick, batch_format="pyarrow", batch_size=None)
    table = pa.concat_tables(picked.iter_batches(batch_format="pyarrow", batch_size=None)).sort_by("_row")
    vectors = matrix(table.column(VEC))
    return vectors if chosen is None else vectors[np.searchsorted(table.column("_row").to_numpy(), chosen)]


def similar_pairs_ray(
    rows: Any, column: str, threshold: float, *, center: bool, partition_size: int, seed: int
) -> tuple[SimilarPairs, int]:
    """All pairs with cosine ≥ threshold, as the local `similar_pairs`, and the number of rows."""
    from curata.engines.ray_engine import group_by_key, integer_key

    mean, n = distributed_mean(rows, column)
    if n == 0:
        return unique_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)), 0
    prepared = Prepared(mean if center else None)
    centroids: np.ndarray | None = None
    if n > partition_size:
        with one_thread():
            centroids = train_centroids(
                sample_matrix(rows, column, prepared, n, seed), partition_count(n, partition_size), seed
            )

    def assign(batch: pa.Table) -> pa.Table:
        numbers = batch.column("_row").to_numpy()
        vectors = prepared.vectors(batch.column(column))
        if centroids is None:
            nearest = np.zeros((len(numbers), 1), np.int64)
        else:
            nearest = assign_centroids(vectors, centroids, ASSIGNMENTS)
        m = nearest.shape[1]
        return pa.table(
            {
                "_row": pa.array(np.repeat(numbers, m)),
                PART: pa.array(nearest.ravel().astype(np.int64)),
                VEC: vector_column(np.repeat(vectors, m, axis=0)),
            }
        )

    def search(batch: pa.Table) -> pa.Table:
        parts, numbers = batch.column(PART).to_numpy(), batch.column("_row").to_numpy()
        vectors = matrix(batch.column(VEC))
        lefts, rights, sims = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
        with one_thread():
            for c in np.unique(parts):
                chosen = np.flatnonzero(parts == c)
                chosen = chosen[np.argsort(numbers[chosen], kind="stable")]
                members, member_vectors = numbers[chosen], vectors[chosen]
                for group in split_partition(member_vectors, partition_size, seed, int(c)):
                    i, j, s = pairs_within(member_vectors[group], threshold)
                    lefts.append(members[group][i])
                    rights.append(members[group][j])
                    sims.append(s)
        return pa.table(
            {"left": np.concatenate(lefts), "right": np.concatenate(rights), "sim": np.concatenate(sims)}
        )

    assigned = rows.map_batches(assign, batch_format="pyarrow", batch_size=None)
    found = group_by_key(assigned, integer_key(PART), search)
    tables = list(found.iter_batches(batch_format="pyarrow", batch_size=None))

    def values(name: str, dtype: type) -> np.ndarray:
        return np.concatenate(
            [np.zeros(0, dtype), *(np.asarray(t.column(name).to_numpy(), dtype) for t in tables)]
        )

    return unique_pairs(values("left", np.int64), values("right", np.int64), values("sim", np.float32)), n


def member_table(rows: Any, nodes: np.ndarray, columns: list[str]) -> pa.Table:
    """`_row` and `columns` of the rows in `nodes` (sorted), in row order: only those reach the driver."""

    def pick(batch: pa.Table) -> pa.Table:
        keep = np.isin(batch.column("_row").to_numpy(), nodes)
        return batch.select(["_row", *columns]).filter(pa.array(keep))

    picked = rows.map_batches(pick, batch_format="pyarrow", batch_size=None)
    tables = list(picked.iter_batches(batch_format="pyarrow", batch_size=None))
    return pa.concat_tables(tables).sort_by("_row")
