"""Column storage of a run: every column lives in per-part Parquet files of the stage that wrote it.

Parts are the ingest batches; every stage writes one file per part, so any column of any row range
can be read without loading the rest, and a killed stage resumes at its first missing part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curata.pipeline import INGEST
from curata.stages.base import DatasetView
from curata.workdir import RunDir


@dataclass(frozen=True)
class Part:
    index: int
    start: int
    rows: int


class PartStore:
    def __init__(self, run: RunDir, parts: Sequence[Part], producers: Mapping[str, str]) -> None:
        self.run = run
        self.parts = tuple(parts)
        self.producers = dict(producers)
        self.starts = np.array([p.start for p in parts], dtype=np.int64)

    @property
    def n_rows(self) -> int:
        return sum(p.rows for p in self.parts)

    def file(self, producer: str, index: int) -> str:
        if producer == INGEST:
            return str(self.run.ingest_part(index))
        return str(self.run.stage_part(producer, index))

    def read_part(self, index: int, columns: Sequence[str]) -> pa.Table:
        """The given columns of one part, in the order asked."""
        by_producer: dict[str, list[str]] = defaultdict(list)
        for name in columns:
            by_producer[self.producers[name]].append(name)
        arrays: dict[str, pa.ChunkedArray] = {}
        for producer, names in by_producer.items():
            table = pq.read_table(self.file(producer, index), columns=names)
            for name in names:
                arrays[name] = table.column(name)
        if not columns:
            return pa.table({"_row": pa.array([], pa.int64())}).slice(0, 0)
        return pa.table({name: arrays[name] for name in columns})


class StoreView(DatasetView):
    """What a dataset stage sees: any column of every row, read from the parts on demand."""

    def __init__(self, store: PartStore) -> None:
        self.store = store

    @property
    def n_rows(self) -> int:
        return self.store.n_rows

    @property
    def scratch_dir(self) -> Path:
        """Where a stage may spill large intermediate arrays (inside the run's work area)."""
        return self.store.run.work / "scratch"

    def column(self, name: str) -> pa.ChunkedArray:
        chunks: list[pa.Array] = []
        dtype: pa.DataType | None = None
        for part in self.store.parts:
            col = self.store.read_part(part.index, [name]).column(0)
            dtype = col.type
            chunks.extend(col.chunks)
        if dtype is None:
            return pa.chunked_array([], pa.null())
        return pa.chunked_array(chunks, dtype)

    def iter_batches(self, columns: Sequence[str]) -> Iterator[pa.Table]:
        for part in self.store.parts:
            yield self.store.read_part(part.index, columns)

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            first = self.store.read_part(self.store.parts[0].index, columns) if self.store.parts else None
            return first.slice(0, 0) if first is not None else pa.table({})
        part_of = np.searchsorted(self.store.starts, rows, side="right") - 1
        pieces: list[pa.Table] = []
        positions: list[np.ndarray] = []
        for part_pos in np.unique(part_of):
            part = self.store.parts[int(part_pos)]
            selected = np.flatnonzero(part_of == part_pos)
            table = self.store.read_part(part.index, columns)
            pieces.append(table.take(pa.array(rows[selected] - part.start)))
            positions.append(selected)
        combined = pa.concat_tables(pieces)
        order = np.argsort(np.concatenate(positions), kind="stable")
        return combined.take(pa.array(order))
