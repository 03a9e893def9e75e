"""Exact duplicates: records whose normalised key text is identical. One is kept (the highest
`quality` where that column exists, else the first); the others are scored 1.0 with `related`
naming the kept record's id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from curata.checks.columns import check_column_types, message_column, related_column, score_column
from curata.checks.registry import declare_check
from curata.dedup.keys import cluster_column, code_for, declare_key_codes
from curata.records import DedupKey
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.normalize import digest_column, digest_matrix
from curata.stages.registry import register_stage

CODE = "exact_duplicate"
CLUSTER = "exact_dup_cluster"
declare_key_codes(
    CODE,
    description="same content as another record after normalisation",
    conversation_action="drop",
    declare=declare_check,
)


class ExactDedupSettings(StageSettings):
    key: DedupKey = "conversation"


def group_keys(digests: np.ndarray) -> np.ndarray:
    """A group number per row: rows with equal 16-byte digests share one."""
    _, inverse = np.unique(digests.view("V16").ravel(), return_inverse=True)
    return np.asarray(inverse).ravel()


def representatives(
    groups: np.ndarray, quality: np.ndarray | None, rows: np.ndarray | None = None
) -> np.ndarray:
    """For each position, the position kept for its group: highest quality, then lowest row number.

    `rows` are the positions' global row numbers (the tie-break), when they are not in row order.
    """
    n = len(groups)
    rows = np.arange(n) if rows is None else rows
    score = np.zeros(n) if quality is None else np.nan_to_num(quality.astype(np.float64), nan=-1.0)
    order = np.lexsort((rows, -score, groups))
    first_of_group = np.ones(n, dtype=bool)
    first_of_group[1:] = groups[order][1:] != groups[order][:-1]
    kept_for_group = np.empty(groups.max() + 1 if n else 0, dtype=np.int64)
    kept_for_group[groups[order][first_of_group]] = order[first_of_group]
    return np.asarray(kept_for_group[groups])


@register_stage
class ExactDedup(DatasetStage):
    name = "exact_dedup"
    description = "exact duplicates of the chosen key after normalisation; one kept per group"
    Settings = ExactDedupSettings
    settings: ExactDedupSettings

    use_quality = False

    @property
    def code(self) -> str:
        """The check code: `exact_duplicate`, or `exact_duplicate_<key>` for the prompt/response keys."""
        return code_for(CODE, self.settings.key)

    @property
    def cluster(self) -> str:
        return cluster_column(CLUSTER, self.settings.key)

    def reads(self) -> frozenset[str]:
        extra = {"quality"} if self.use_quality else set()
        return frozenset({"id", digest_column(self.settings.key), *extra})

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.use_quality = "quality" in available

    def writes(self) -> dict[str, pa.DataType]:
        return {**check_column_types(self.code, related=True), self.cluster: pa.int64()}

    def check_codes(self) -> tuple[str, ...]:
        return (self.code,)

    def message(self, kept_id: str, copies: int) -> str:
        return f"same {self.settings.key} as {kept_id} after normalisation ({copies} copies)"

    def dedupe(
        self,
        digests: np.ndarray,
        quality: np.ndarray | None,
        ids: pa.Array | pa.ChunkedArray | Sequence[str],
        rows: np.ndarray,
    ) -> dict[str, pa.Array]:
        """The stage's columns for a set of rows holding every copy of each digest they contain.

        `rows` are the rows' global numbers: a cluster is named by its kept row. Python objects
        are made for duplicates only, so memory stays flat in the number of unique records.
        """
        n = len(rows)
        if n == 0:
            return {name: pa.array([], dtype) for name, dtype in self.writes().items()}
        groups = group_keys(digests)
        kept = representatives(groups, quality, rows)
        sizes = np.bincount(groups)[groups]
        is_dup = kept != np.arange(n)
        dups = np.flatnonzero(is_dup)
        if not isinstance(ids, pa.Array | pa.ChunkedArray):
            ids = pa.array(ids, pa.string())
        kept_ids = ids.take(pa.array(kept[dups])).to_pylist()
        messages = np.full(n, None, dtype=object)
        messages[dups] = [self.message(k, int(c)) for k, c in zip(kept_ids, sizes[dups], strict=True)]
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(is_dup, out=offsets[1:])
        related = pa.ListArray.from_arrays(
            pa.array(offsets), pa.array(kept_ids, pa.string()), mask=pa.array(~is_dup)
        )
        return {
            score_column(self.code): pa.array(is_dup.astype(np.float32)),
            message_column(self.code): pa.array(messages, pa.string()),
            related_column(self.code): related,
            self.cluster: pa.array(np.where(sizes > 1, rows[kept], -1).astype(np.int64)),
        }

    def ray_analyse(self, rows: Any) -> Any:
        """Hash-partition the rows by digest across the cluster, then dedupe each partition locally
        (every copy of a digest lands in the same partition)."""
        digest = digest_column(self.settings.key)

        def per_partition(batch: pa.Table) -> pa.Table:
            quality = batch.column("quality").to_numpy(zero_copy_only=False) if self.use_quality else None
            row_numbers = batch.column("_row").to_numpy()
            columns = self.dedupe(
                digest_matrix(batch.column(digest)), quality, batch.column("id"), row_numbers
            )
            return pa.table({"_row": row_numbers, **columns})

        from curata.engines.ray_engine import RayResult, digest_key, group_by_key

        result = group_by_key(rows, digest_key(digest), per_partition)
        return RayResult(result, [], self.summarize)

    def summarize(self, data: DatasetView) -> dict[str, Any]:
        clusters = data.numpy(self.cluster)
        return {
            "key": self.settings.key,
            "duplicates": int(np.count_nonzero(data.numpy(score_column(self.code)))),
            "groups": len(np.unique(clusters[clusters >= 0])),
        }

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        columns = self.dedupe(
            digest_matrix(data.column(digest_column(self.settings.key))),
            data.numpy("quality") if self.use_quality else None,
            data.column("id"),
            np.arange(n),
        )
        progress(n)
        clusters = columns[self.cluster].to_numpy()
        return DatasetResult(
            columns=columns,
            summary={
                "key": self.settings.key,
                "duplicates": int(np.count_nonzero(columns[score_column(self.code)].to_numpy())),
                "groups": len(np.unique(clusters[clusters >= 0])),
            },
        )
