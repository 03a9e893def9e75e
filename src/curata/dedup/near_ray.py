"""Near duplicates on the Ray engine: the local algorithm (`curata.dedup.near`), step for step, as
distributed operations, so the clusters, scores and similarities are the local engine's.

1. Sketch (`map_batches`, pyarrow): each block's shingles and signatures, with the same
   `sketch` as the local engine; the block keeps the 32-bit shingle hashes for verification.
2. LSH buckets (`group_by_key` on the band hash): one row per (band, hash, row); each bucket's
   candidate pairs come from the local `bucket_pairs`, over the bucket's rows in row order.
3. Estimate, then verify (`join_by_key`, by the low then the high row): every pair meets both
   records' signatures in one task; copies of a pair from several bands meet in the same task
   (same low row) and are counted once. The promising pairs (the local filter on the signature
   estimate) then meet both records' shingles the same way for their true Jaccard: shingles
   travel only with promising pairs.
4. Order (`group_by_key` on the estimate): the local engine verifies the promising pairs in
   rounds of `VERIFY_PAIRS`, best estimate first, ties by pair; each task numbers its pairs
   within their estimate, the driver adds the offsets of the higher estimates. Only passing
   pairs (and one count per estimate) reach the driver.
5. The driver replays the rounds over the passing pairs (`verify_rounds`: union-find on edges
   only), the star split asks Ray tasks for its Jaccards, and a last `map_batches` writes every
   row's columns from the small table of rows that have a passing pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curata.dedup.lsh import band_hashes, bucket_pairs
from curata.dedup.minhash import estimated_jaccard
from curata.dedup.near import VERIFY_PAIRS, NearDedupParams, NearDuplicates, sketch, verify_rounds
from curata.dedup.shingles import Shingles
from curata.dedup.verify import jaccard_pairs, sorted_unique

SIG, SHINGLES, COUNT = "_sig", "_shingles", "_count"
# Rows of the estimate-order output: a passing pair, or the number of pairs with one estimate.
PAIR, LEVEL = 0, 1
ORDER_SCHEMA = pa.schema(
    [
        ("kind", pa.int8()),
        ("left", pa.int64()),
        ("right", pa.int64()),
        ("estimate", pa.float32()),
        ("sim", pa.float32()),
        ("position", pa.int64()),
    ]
)


def signature_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The (rows, num_perm) uint32 matrix of a fixed-size list column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    width = array.type.list_size
    return np.asarray(array.flatten().to_numpy()).reshape(-1, width)


def shingle_lists(column: pa.ChunkedArray | pa.Array) -> Shingles:
    """The shingle hashes of a list column, as the local `ShingleStore.rows` gives them."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = np.asarray(array.offsets.to_numpy()).astype(np.int64)
    values = np.asarray(array.flatten().to_numpy()).astype(np.uint64)
    return Shingles(values, offsets - offsets[0])


def sketch_block(
    batch: pa.Table, shingler: Callable[[pa.ChunkedArray], Shingles], params: NearDedupParams, keep: list[str]
) -> pa.Table:
    """`_row`, the kept columns, the shingle count, the signature and the 32-bit shingles of each row."""
    shingles = shingler(batch.column("turns"))
    done = sketch([shingles], batch.num_rows, params)
    store = done.shingles
    columns: dict[str, Any] = {name: batch.column(name) for name in ["_row", *keep]}
    columns[COUNT] = pa.array(np.diff(store.offsets))
    columns[SIG] = pa.FixedSizeListArray.from_arrays(pa.array(done.signatures.ravel()), params.num_perm)
    columns[SHINGLES] = pa.LargeListArray.from_arrays(pa.array(store.offsets), pa.array(store.data))
    return pa.table(columns)


def band_block(batch: pa.Table, params: NearDedupParams) -> pa.Table:
    """One row (band, band hash, row) per band of every row with enough shingles to compare."""
    valid = batch.column(COUNT).to_numpy() >= max(params.min_shingles, 1)
    sig = signature_matrix(batch.column(SIG))[valid]
    rows = batch.column("_row").to_numpy()[valid]
    hashes = [band_hashes(sig, band, params.rows) for band in range(params.bands)]
    return pa.table(
        {
            "band": np.repeat(np.arange(params.bands, dtype=np.int32), len(rows)),
            "hash": np.concatenate(hashes) if hashes else np.zeros(0, np.uint64),
            "_row": np.tile(rows.astype(np.int64), params.bands),
        }
    )


def pair_codes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """One sortable code per pair (low row, high row): the local order of pairs."""
    return (left.astype(np.uint64) << np.uint64(32)) | right.astype(np.uint64)


def pairs_table(codes: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "left": (codes >> np.uint64(32)).astype(np.int64),
            "right": (codes & np.uint64(0xFFFFFFFF)).astype(np.int64),
        }
    )


def bucket_block(batch: pa.Table, window: int) -> pa.Table:
    """The candidate pairs of every (band, hash) bucket in this task, as the local `bucket_pairs`."""
    bands = batch.column("band").to_numpy()
    hashes = batch.column("hash").to_numpy()
    rows = batch.column("_row").to_numpy()
    codes = [np.zeros(0, np.uint64)]
    for band in np.unique(bands):
        chosen = np.flatnonzero(bands == band)
        chosen = chosen[np.argsort(rows[chosen], kind="stable")]
        left, right = bucket_pairs(hashes[chosen], rows[chosen], window)
        codes.append(pair_codes(left, right))
    return pairs_table(sorted_unique(np.concatenate(codes)))


def attach(pairs: pa.Table, sketched: pa.Table, side: str) -> pa.Table:
    """The pairs with the columns of their `side` row (all but `_row`) appended, prefixed `side`."""
    rows = sketched.column("_row").to_numpy()
    order = np.argsort(rows, kind="stable")
    wanted = pairs.column(side).to_numpy()
    at = np.searchsorted(rows[order], wanted)
    if len(wanted) and (at.max() >= len(rows) or (rows[order][at] != wanted).any()):
        raise RuntimeError(f"near_dedup (ray): rows of {side} pair ends are missing from their partition")
    found = sketched.take(pa.array(order[at]))
    for name in sketched.column_names:
        if name != "_row":
            pairs = pairs.append_column(f"{side}{name}", found.column(name))
    return pairs


def estimate_block(pairs: pa.Table, signatures: pa.Table, params: NearDedupParams) -> pa.Table:
    """The promising pairs (the local filter on the signature estimate) and their estimate."""
    pairs = attach(pairs, signatures, "right")
    m = pairs.num_rows
    sig = np.vstack([signature_matrix(pairs.column(f"{s}{SIG}")) for s in ("left", "right")])
    estimate = estimated_jaccard(sig, np.arange(m), np.arange(m, 2 * m))
    promising = np.flatnonzero(estimate >= params.threshold - params.slack)
    return pa.table(
        {
            "left": pairs.column("left").take(pa.array(promising)),
            "right": pairs.column("right").take(pa.array(promising)),
            "estimate": pa.array(estimate[promising]),
        }
    )


def jaccard_block(pairs: pa.Table, shingles: pa.Table) -> pa.Table:
    """The pairs (low row's shingles attached) with their true Jaccard, shingles dropped."""
    pairs = attach(pairs, shingles, "right")
    low, high = (shingle_lists(pairs.column(f"{s}{SHINGLES}")) for s in ("left", "right"))
    offsets = np.concatenate([low.offsets, high.offsets[1:] + low.offsets[-1]])
    stacked = Shingles(np.concatenate([low.hashes, high.hashes]), offsets)
    m = pairs.num_rows
    sim = jaccard_pairs(stacked, np.arange(m), np.arange(m, 2 * m))
    pairs = pairs.drop_columns([f"{s}{SHINGLES}" for s in ("left", "right")])
    return pairs.append_column("sim", pa.array(sim.astype(np.float32)))


def jaccard_of(pairs: Any, shingles: Any) -> Any:
    """A Ray Dataset of the pairs (`left`, `right` and any other columns) with their true Jaccard
    `sim`, by two distributed joins with the rows' shingles."""
    from curata.engines.ray_engine import integer_key, join_by_key

    row = integer_key("_row")
    with_low = join_by_key(pairs, integer_key("left"), shingles, row, lambda p, s: attach(p, s, "left"))
    return join_by_key(with_low, integer_key("right"), shingles, row, jaccard_block)


def order_block(batch: pa.Table, threshold: float) -> pa.Table:
    """Each pair's position among the pairs of its estimate (ties by pair, as the local stable
    sort over sorted pairs), the number of pairs per estimate, and only the passing pairs."""
    pairs = batch
    left, right = pairs.column("left").to_numpy(), pairs.column("right").to_numpy()
    estimate = pairs.column("estimate").to_numpy()
    order = np.lexsort((right, left, estimate))
    ordered = estimate[order]
    start = np.ones(len(order), dtype=bool)
    start[1:] = ordered[1:] != ordered[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order)) - first
    levels, sizes = np.unique(estimate, return_counts=True)
    ok = pairs.column("sim").to_numpy() >= threshold
    passing = pa.table(
        {
            "kind": pa.array(np.full(int(ok.sum()), PAIR, np.int8)),
            "left": pairs.column("left").filter(pa.array(ok)),
            "right": pairs.column("right").filter(pa.array(ok)),
            "estimate": pairs.column("estimate").filter(pa.array(ok)),
            "sim": pairs.column("sim").filter(pa.array(ok)),
            "position": pa.array(position[ok]),
        },
        schema=ORDER_SCHEMA,
    )
    level_rows = pa.table(
        {
            "kind": pa.array(np.full(len(levels), LEVEL, np.int8)),
            "left": pa.array(np.full(len(levels), -1, np.int64)),
            "right": pa.array(sizes.astype(np.int64)),
            "estimate": pa.array(levels.astype(np.float32)),
            "sim": pa.array(np.zeros(len(levels), np.float32)),
            "position": pa.array(np.zeros(len(levels), np.int64)),
        },
        schema=ORDER_SCHEMA,
    )
    return pa.concat_tables([passing, level_rows])


def estimate_key(batch: pa.Table) -> np.ndarray:
    return np.asarray(batch.column("estimate").to_numpy()).view(np.uint32).astype(np.uint64)


def collect(dataset: Any, schema: pa.Schema = ORDER_SCHEMA) -> pa.Table:
    """A small distributed result, on the driver (`schema` when it has no blocks)."""
    import ray

    tables = ray.get(dataset.to_arrow_refs())
    return pa.concat_tables(tables) if tables else schema.empty_table()


def rounds_of(rank: np.ndarray) -> Iterator[np.ndarray]:
    """Pair indexes grouped by the local verification round their rank falls in."""
    order = np.argsort(rank, kind="stable")
    chunk = rank[order] // VERIFY_PAIRS
    cuts = np.flatnonzero(np.diff(chunk)) + 1
    yield from np.split(order, cuts)


@dataclass
class RayNearDuplicates:
    """The verified pairs over `nodes` (the rows with a passing candidate pair, sorted): `found`
    indexes positions in `nodes`; `meta` holds the kept columns of those rows, in order."""

    sketched: Any
    shingles: Any
    nodes: np.ndarray
    found: NearDuplicates
    meta: pa.Table
    # The Jaccard of every passing pair (sorted `pair_codes` of node positions): the star split
    # mostly asks for these again.
    known_codes: np.ndarray
    known_sims: np.ndarray

    def jaccard(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """True Jaccard of node pairs: known ones looked up, the rest computed by Ray tasks."""
        codes = pair_codes(np.minimum(left, right), np.maximum(left, right))
        at, known = lookup(self.known_codes, codes)
        out = np.zeros(len(codes), np.float32)
        out[known] = self.known_sims[at[known]]
        unknown = np.flatnonzero(~known)
        out[unknown] = pair_jaccard(self.shingles, self.nodes[left[unknown]], self.nodes[right[unknown]])
        return out

    def assign(self, members: pa.Table, fill: dict[str, Any]) -> Any:
        """Every row's columns: the member table's for its rows, `fill` (or null) elsewhere."""
        return assign_rows(self.sketched.select_columns(["_row"]), self.nodes, members, fill)


def assign_rows(rows: Any, nodes: np.ndarray, members: pa.Table, fill: dict[str, Any]) -> Any:
    """A Ray Dataset of every row of `rows` (`_row` only) with `members`' columns for the rows in
    `nodes` (sorted; `members` in the same order) and `fill` (or null) for the others."""
    names = [c for c in members.column_names if c != "_row"]

    def per_block(batch: pa.Table) -> pa.Table:
        at, hit = lookup(nodes, batch.column("_row").to_numpy())
        index = pa.array(at, mask=~hit)
        columns: dict[str, Any] = {"_row": batch.column("_row")}
        for name in names:
            column = members.column(name).take(index)
            columns[name] = pc.fill_null(column, fill[name]) if name in fill else column
        return pa.table(columns)

    return rows.map_batches(per_block, batch_format="pyarrow", batch_size=None)


def lookup(ordered: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each value is in a sorted array, and whether it is there at all."""
    if len(ordered) == 0:
        return np.zeros(len(values), np.int64), np.zeros(len(values), bool)
    at = np.searchsorted(ordered, values).clip(0, len(ordered) - 1)
    return at, ordered[at] == values


def pair_jaccard(shingles: Any, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True Jaccard of (left[i], right[i]) for global rows, computed where the shingles are."""
    import ray

    if len(left) == 0:
        return np.zeros(0, np.float32)
    pairs = pa.table({"pair": np.arange(len(left), dtype=np.int64), "left": left, "right": right})
    result = collect(jaccard_of(ray.data.from_arrow(pairs), shingles))
    out = np.zeros(len(left), np.float32)
    out[result.column("pair").to_numpy()] = result.column("sim").to_numpy()
    return out


def find_ray(
    rows: Any, shingler: Callable[[pa.ChunkedArray], Shingles], params: NearDedupParams, keep: list[str]
) -> RayNearDuplicates | None:
    """Steps 1–5 of the module docstring up to the replayed rounds (the star split is the
    caller's); None when there are no rows."""
    from curata.engines.ray_engine import group_by_key, integer_key, join_by_key

    sketched = rows.map_batches(
        lambda batch: sketch_block(batch, shingler, params, keep), batch_format="pyarrow", batch_size=None
    ).materialize()
    if sketched.count() == 0:
        return None
    bands = sketched.select_columns(["_row", COUNT, SIG]).map_batches(
        lambda batch: band_block(batch, params), batch_format="pyarrow", batch_size=None
    )
    window = params.window
    candidates = group_by_key(bands, integer_key("hash"), lambda b: bucket_block(b, window))

    def with_low(pairs: pa.Table, s: pa.Table) -> pa.Table:
        codes = sorted_unique(pair_codes(pairs.column("left").to_numpy(), pairs.column("right").to_numpy()))
        return attach(pairs_table(codes), s, "left")

    signatures = sketched.select_columns(["_row", SIG]).materialize()
    shingles = sketched.select_columns(["_row", SHINGLES]).materialize()
    row = integer_key("_row")
    lows = join_by_key(candidates, integer_key("left"), signatures, row, with_low)
    n_candidates = lows.count()
    promising = join_by_key(
        lows, integer_key("right"), signatures, row, lambda p, s: estimate_block(p, s, params)
    )
    threshold = params.threshold
    ordered = collect(
        group_by_key(jaccard_of(promising, shingles), estimate_key, lambda b: order_block(b, threshold))
    )
    kind = ordered.column("kind").to_numpy()
    levels = ordered.filter(pa.array(kind == LEVEL))
    level_values = levels.column("estimate").to_numpy()
    by_level = np.argsort(-level_values, kind="stable")
    sizes = levels.column("right").to_numpy()[by_level]
    offsets = np.cumsum(sizes) - sizes
    passing = ordered.filter(pa.array(kind == PAIR))
    left, right = passing.column("left").to_numpy(), passing.column("right").to_numpy()
    sim = passing.column("sim").to_numpy()
    level = np.searchsorted(-level_values[by_level], -passing.column("estimate").to_numpy())
    rank = passing.column("position").to_numpy() + offsets[level]
    nodes = sorted_unique(np.concatenate([left, right]).astype(np.int64))
    low, high = np.searchsorted(nodes, left), np.searchsorted(nodes, right)
    kept_l, kept_r, kept_j, labels = verify_rounds(
        low, high, rounds_of(rank), lambda chosen: sim[chosen], params.threshold, len(nodes)
    )
    found = NearDuplicates(labels, kept_l, kept_r, kept_j, n_candidates)
    meta = node_rows(sketched, nodes, keep)
    codes = pair_codes(low, high)
    by_code = np.argsort(codes)
    return RayNearDuplicates(sketched, shingles, nodes, found, meta, codes[by_code], sim[by_code])


def node_rows(sketched: Any, nodes: np.ndarray, keep: list[str]) -> pa.Table:
    """The kept columns of the given rows (sorted), filtered where the rows are."""

    def pick(batch: pa.Table) -> pa.Table:
        rows = batch.column("_row").to_numpy()
        return batch.filter(pa.array(np.isin(rows, nodes)))

    columns = sketched.select_columns(["_row", *keep])
    table = collect(
        columns.map_batches(pick, batch_format="pyarrow", batch_size=None), columns.schema().base_schema
    )
    if table.num_rows != len(nodes):
        raise RuntimeError(f"near_dedup (ray): found {table.num_rows} of {len(nodes)} rows")
    return table.sort_by("_row")
