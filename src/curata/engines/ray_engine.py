"""The Ray engine (`--engine ray`, extra `curata[ray]`): the same stages, run on a Ray cluster.

- Row stages run as Ray Data `map_batches` over pyarrow batches, in an actor pool (each actor
  builds its stages once, so embedders and local models load once per actor).
- Dataset stages that provide a distributed implementation (`RayAnalysis`) run as distributed
  operations (`group_by_key`, `join_by_key`: map-reduces of Ray tasks) over the cluster; the driver only
  streams each stage's small output columns back into the run's parts. Others run on the
  driver as in the local engine. How to write one: docs/scale.md.
- Ingest, the run directory and the outputs are the local engine's, so outputs are identical.

The run directory must be on storage every node can reach (a shared or network file system);
on one machine that is any local path.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from curata.engines.local import LocalEngine, StageRun, checked_columns, merge
from curata.engines.store import Part, PartStore, StoreView
from curata.errors import CurataError
from curata.pipeline import PlannedStage
from curata.progress import Reporter
from curata.stages.base import DatasetStage, DatasetView, Finding, RowStage
from curata.workdir import RunDir, write_parquet


@dataclass
class RayResult:
    """A distributed analysis: a Ray Dataset of `_row` plus every column the stage writes (any
    order), dataset-level findings, and how to summarise the columns once they are written."""

    rows: Any
    findings: list[Finding] = field(default_factory=list)
    summarize: Callable[[DatasetView], dict[str, Any]] | None = None


@runtime_checkable
class RayAnalysis(Protocol):
    """A dataset stage's distributed implementation; `rows` is a lazy Ray Dataset of `_row` plus
    the stage's `reads()` columns. Return None to run `analyse` on the driver instead (e.g. for
    settings the distributed version does not cover). The result's columns must equal what
    `analyse` would write, row for row: the engine writes them into the same part files."""

    def ray_analyse(self, rows: Any) -> RayResult | None: ...


def digest_key(column: str) -> Callable[[pa.Table], np.ndarray]:
    """A partition key for `group_by_key`: the first 64 bits of a 16-byte digest column."""
    from curata.stages.normalize import digest_matrix

    def key(batch: pa.Table) -> np.ndarray:
        return np.asarray(digest_matrix(batch.column(column)).view(np.uint64)[:, 0])

    return key


def group_by_key(
    rows: Any,
    key: Callable[[pa.Table], np.ndarray],
    apply: Callable[[pa.Table], pa.Table],
    partitions: int | None = None,
) -> Any:
    """A distributed group-by as a plain map-reduce of Ray tasks: every block of `rows` is split
    into `partitions` buckets by `key % partitions`, then each bucket (all blocks' pieces of it)
    is concatenated and given to `apply`, so `apply` sees every row sharing a key at once. Only
    object references pass through the driver. Returns a Ray Dataset of `apply`'s outputs.

    (Ray Data's own `repartition(keys=...)` gives the same grouping but starts a pool of shuffle
    actors, which takes tens of seconds on a busy 2-core machine.)
    """
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 2))  # type: ignore[no-untyped-call]
    count = partitions or max(2, int(cpus))

    def split(block: pa.Table) -> tuple[pa.Table, ...]:
        bucket = key(block) % np.uint64(count)
        return tuple(block.filter(pa.array(bucket == i)) for i in range(count))

    def reduce(*pieces: pa.Table) -> pa.Table:
        return apply(pa.concat_tables(pieces))

    split_task = ray.remote(split).options(num_returns=count)
    reduce_task = ray.remote(reduce)
    pieces: list[Any] = [split_task.remote(block) for block in rows.to_arrow_refs()]
    outputs = [reduce_task.remote(*(piece[i] for piece in pieces)) for i in range(count)]
    return ray.data.from_arrow_refs(outputs)


def join_by_key(
    left: Any,
    left_key: Callable[[pa.Table], np.ndarray],
    right: Any,
    right_key: Callable[[pa.Table], np.ndarray],
    apply: Callable[[pa.Table, pa.Table], pa.Table],
    partitions: int | None = None,
) -> Any:
    """A distributed join as the same map-reduce as `group_by_key`: the blocks of both Ray Datasets
    are split into buckets by their key, and `apply(left rows, right rows)` gets each bucket of
    both sides at once, so a left row meets every right row with its key. Both datasets need at
    least one block. Only object references pass through the driver."""
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 2))  # type: ignore[no-untyped-call]
    count = partitions or max(2, int(cpus))

    def split(block: pa.Table, key: Callable[[pa.Table], np.ndarray]) -> tuple[pa.Table, ...]:
        bucket = key(block) % np.uint64(count)
        return tuple(block.filter(pa.array(bucket == i)) for i in range(count))

    def reduce(n_left: int, *pieces: pa.Table) -> pa.Table:
        return apply(pa.concat_tables(pieces[:n_left]), pa.concat_tables(pieces[n_left:]))

    split_task = ray.remote(split).options(num_returns=count)
    reduce_task = ray.remote(reduce)
    left_pieces: list[Any] = [split_task.remote(block, left_key) for block in left.to_arrow_refs()]
    right_pieces: list[Any] = [split_task.remote(block, right_key) for block in right.to_arrow_refs()]
    if not left_pieces or not right_pieces:
        raise CurataError("join_by_key needs at least one block on each side")
    outputs = [
        reduce_task.remote(
            len(left_pieces), *(piece[i] for piece in left_pieces), *(piece[i] for piece in right_pieces)
        )
        for i in range(count)
    ]
    return ray.data.from_arrow_refs(outputs)


def integer_key(column: str) -> Callable[[pa.Table], np.ndarray]:
    """A partition key for `group_by_key` / `join_by_key`: an integer column (row numbers, hashes)."""

    def key(batch: pa.Table) -> np.ndarray:
        return np.asarray(batch.column(column).to_numpy()).astype(np.uint64)

    return key


def start_ray(workers: int, address: str | None = None) -> Any:
    """Join the cluster at `address` (or $RAY_ADDRESS), else start a local Ray instance."""
    try:
        import ray
    except ImportError:
        raise CurataError("--engine ray needs Ray: pip install 'curata[ray]'") from None
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        # Logical CPUs beyond the cores: the reading tasks must not wait behind the actor pool.
        options: dict[str, Any] = {} if address else {"num_cpus": workers * 2}
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            configure_logging=True,
            **options,
        )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return ray


class PartReader:
    """A Ray Data task: turns a batch of part numbers into those parts' columns (and `_row`)."""

    def __init__(
        self, out: str, parts: tuple[Part, ...], producers: dict[str, str], columns: list[str]
    ) -> None:
        self.out, self.parts, self.producers, self.columns = out, parts, producers, columns

    def __call__(self, batch: pa.Table) -> pa.Table:
        store = PartStore(RunDir(_path(self.out)), self.parts, self.producers)
        tables = [store.read_part(int(i), self.columns) for i in batch.column("part").to_pylist()]
        return pa.concat_tables(tables)


class RowStageActor:
    """A Ray Data actor: runs a group of row stages on pyarrow batches of records."""

    def __init__(self, group: list[PlannedStage]) -> None:
        self.group = group
        for planned in group:
            assert isinstance(planned.stage, RowStage)
            planned.stage.setup()

    def __call__(self, batch: pa.Table) -> pa.Table:
        table = batch
        produced = pa.table({"_row": batch.column("_row")})
        for planned in self.group:
            stage = planned.stage
            assert isinstance(stage, RowStage)
            columns = checked_columns(
                planned, stage.process(table.select(sorted(stage.reads()))), batch.num_rows
            )
            out = pa.table(columns)
            table = merge(table, out)
            produced = merge(produced, out)
        return produced


def actor_class(group: list[PlannedStage]) -> type[RowStageActor]:
    """The actor class with its stages bound in (Ray keeps constructor arguments in the object
    store, where an actor restart may not find them again)."""

    class BoundRowStageActor(RowStageActor):
        def __init__(self) -> None:
            super().__init__(group)

    return BoundRowStageActor


def _path(value: str) -> Any:
    from pathlib import Path

    return Path(value)


class RayEngine(LocalEngine):
    def __init__(
        self,
        run: RunDir,
        plan: Any,
        reporter: Reporter,
        workers: int | None = None,
        address: str | None = None,
    ) -> None:
        super().__init__(run, plan, reporter, workers)
        self.ray = start_ray(self.workers, address)

    def stage_columns(self, store: PartStore, columns: list[str], parts: list[Part]) -> Any:
        """A Ray Dataset of the given columns (plus `_row`) of these parts, read by Ray tasks."""
        names = sorted({"_row", *columns})
        reader = PartReader(str(self.run.out), store.parts, store.producers, names)
        return self.ray.data.from_items([{"part": p.index} for p in parts]).map_batches(
            reader, batch_size=1, batch_format="pyarrow"
        )

    def write_by_part(
        self, store: PartStore, batches: Iterator[pa.Table], keys: dict[str, list[str]], task: Any
    ) -> None:
        """Stream `_row`-keyed output batches into each stage's part files, a part as soon as it is whole."""
        starts = store.starts
        pending: dict[int, list[pa.Table]] = {}
        have: dict[int, int] = {}
        for batch in batches:
            rows = batch.column("_row").to_numpy()
            part_of = np.searchsorted(starts, rows, side="right") - 1
            for index in np.unique(part_of):
                piece = batch.filter(pa.array(part_of == index))
                pending.setdefault(int(index), []).append(piece)
                have[int(index)] = have.get(int(index), 0) + piece.num_rows
                part = store.parts[int(index)]
                if have[int(index)] == part.rows:
                    whole = pa.concat_tables(pending.pop(int(index)))
                    whole = whole.sort_by("_row")
                    for key, names in keys.items():
                        write_parquet(self.run.stage_part(key, part.index), whole.select(names))
                    task.advance(part.rows)
        if pending:
            raise CurataError(f"the Ray engine lost rows of parts {sorted(pending)}")

    def compute_row_parts(self, group: list[PlannedStage], store: PartStore) -> dict[str, float]:
        task = self.reporter.task("+".join(p.name for p in group) + " (ray)", store.n_rows)
        todo = self.pending_parts(group, store, task)
        start = time.perf_counter()
        if todo:
            produced_here: set[str] = set()
            external: set[str] = set()
            for planned in group:
                external |= {c for c in planned.stage.reads() if c not in produced_here}
                produced_here |= set(planned.stage.writes())
            rows = self.stage_columns(store, sorted(external), todo)
            outputs = rows.map_batches(
                actor_class(group),
                batch_format="pyarrow",
                compute=self.ray.data.ActorPoolStrategy(size=self.workers),
                num_cpus=1,
            )
            keys = {p.key: list(p.stage.writes()) for p in group}
            self.write_by_part(
                store, outputs.iter_batches(batch_format="pyarrow", batch_size=None), keys, task
            )
        task.finish()
        seconds = (time.perf_counter() - start) / max(len(group), 1)
        return {p.key: seconds for p in group}

    def run_dataset_stage(self, planned: PlannedStage, store: PartStore) -> StageRun:
        stage = planned.stage
        if not isinstance(stage, RayAnalysis) or self.finished(planned) is not None:
            return super().run_dataset_stage(planned, store)
        assert isinstance(stage, DatasetStage)
        task = self.reporter.task(f"{stage.name} (ray)", store.n_rows)
        start = time.perf_counter()
        rows = self.stage_columns(store, sorted(stage.reads()), list(store.parts))
        result = stage.ray_analyse(rows)
        if result is None:
            return super().run_dataset_stage(planned, store)
        names = list(stage.writes())
        batches = result.rows.iter_batches(batch_format="pyarrow", batch_size=None)
        self.write_by_part(store, (cast_to(planned, b) for b in batches), {planned.key: names}, task)
        summary = result.summarize(StoreView(store)) if result.summarize else {}
        task.finish()
        return self.finish_dataset_stage(planned, store, start, summary, result.findings)


def cast_to(planned: PlannedStage, batch: pa.Table) -> pa.Table:
    """Give a distributed stage's output the declared column types."""
    declared = planned.stage.writes()
    columns = {"_row": batch.column("_row")}
    for name, dtype in declared.items():
        column = batch.column(name)
        columns[name] = column if column.type == dtype else column.cast(dtype)
    return pa.table(columns)
