"""A DatasetView over an in-memory table, for driving dataset stages directly."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa

from curata.stages.base import DatasetView
from curata.stages.embed import embedding_array


class TableView(DatasetView):
    def __init__(self, table: pa.Table) -> None:
        self.table = table

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)

    def iter_batches(self, columns: Sequence[str]) -> Iterator[pa.Table]:
        yield self.table.select(list(columns))

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        return self.table.select(list(columns)).take(pa.array(rows))


def view(
    vectors: np.ndarray, quality: Sequence[float] | None = None, texts: Sequence[str] | None = None
) -> TableView:
    n = len(vectors)
    columns: dict[str, pa.Array] = {
        "id": pa.array([f"r{i}" for i in range(n)]),
        "embedding": embedding_array(np.asarray(vectors, dtype=np.float32)),
    }
    if quality is not None:
        columns["quality"] = pa.array(np.asarray(quality, dtype=np.float32))
    if texts is not None:
        columns["turns"] = pa.array(
            [[{"role": "user", "content": t}, {"role": "assistant", "content": "ok"}] for t in texts]
        )
    return TableView(pa.table(columns))
