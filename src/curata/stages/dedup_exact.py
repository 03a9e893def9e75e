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
from curata.records import DedupKey
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.normalize import digest_column, digest_matrix
from curata.stages.registry import register_stage

CODE = "exact_duplicate"
declare_check(CODE, description="same content as another record after normalisation", action="drop")


class ExactDedupSettings(StageSettings):
    key: DedupKey = "conversation"


def group_keys(digests: np.ndarray) -> np.ndarray:
    """A group number per row: rows with equal 16-byte digests share one."""
    _, inverse = np.unique(digests.view("V16").ravel(), return_inverse=True)
    return np.asarray(inverse).ravel()


def representatives(groups: np.ndarray, quality: np.ndarray | None) -> np.ndarray:
    """For each row, the row kept for its group: highest quality, then lowest row number."""
    n = len(groups)
    rows = np.arange(n)
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

    def reads(self) -> frozenset[str]:
        extra = {"quality"} if self.use_quality else set()
        return frozenset({"id", digest_column(self.settings.key), *extra})

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.use_quality = "quality" in available

    def writes(self) -> dict[str, pa.DataType]:
        return {**check_column_types(CODE, related=True), "exact_dup_cluster": pa.int64()}

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

    def message(self, kept_id: str, copies: int) -> str:
        return f"same {self.settings.key} as {kept_id} after normalisation ({copies} copies)"

    def ray_analyse(self, rows: Any) -> tuple[Any, list[Any], dict[str, Any]]:
        """The same grouping as a distributed group-by on the digest (see engines.ray_engine)."""
        digest = digest_column(self.settings.key)
        use_quality = self.use_quality

        def keys(batch: pa.Table) -> pa.Table:
            halves = digest_matrix(batch.column(digest)).view(np.uint64)
            return batch.append_column("k0", pa.array(halves[:, 0])).append_column(
                "k1", pa.array(halves[:, 1])
            )

        def per_group(group: pa.Table) -> pa.Table:
            rows_ = group.column("_row").to_numpy()
            score = (
                np.nan_to_num(
                    group.column("quality").to_numpy(zero_copy_only=False).astype(np.float64), nan=-1.0
                )
                if use_quality
                else np.zeros(len(rows_))
            )
            best = int(np.lexsort((rows_, -score))[0])
            kept_row, kept_id = int(rows_[best]), group.column("id")[best].as_py()
            is_dup = rows_ != kept_row
            copies = len(rows_)
            return pa.table(
                {
                    "_row": rows_,
                    score_column(CODE): is_dup.astype(np.float32),
                    message_column(CODE): [self.message(kept_id, copies) if d else None for d in is_dup],
                    related_column(CODE): pa.array(
                        [[kept_id] if d else None for d in is_dup], pa.list_(pa.string())
                    ),
                    "exact_dup_cluster": np.full(copies, kept_row if copies > 1 else -1, dtype=np.int64),
                }
            )

        result = (
            rows.map_batches(keys, batch_format="pyarrow")
            .groupby(["k0", "k1"])
            .map_groups(per_group, batch_format="pyarrow")
            .materialize()
        )
        duplicates = int(result.sum(score_column(CODE)) or 0)
        clusters = result.filter(expr="exact_dup_cluster >= 0").unique("exact_dup_cluster")
        return result, [], {"key": self.settings.key, "duplicates": duplicates, "groups": len(clusters)}

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        digests = digest_matrix(data.column(digest_column(self.settings.key)))
        groups = group_keys(digests) if n else np.zeros(0, dtype=np.int64)
        quality = data.numpy("quality") if self.use_quality else None
        kept = representatives(groups, quality) if n else np.zeros(0, dtype=np.int64)
        sizes = np.bincount(groups, minlength=groups.max() + 1 if n else 0)[groups] if n else groups
        rows = np.arange(n)
        is_dup = kept != rows
        ids = data.column("id").to_pylist()
        related: list[list[str] | None] = [[ids[k]] if d else None for k, d in zip(kept, is_dup, strict=True)]
        messages = [
            self.message(ids[k], s) if d else None for k, d, s in zip(kept, is_dup, sizes, strict=True)
        ]
        progress(n)
        duplicates = int(is_dup.sum())
        return DatasetResult(
            columns={
                score_column(CODE): pa.array(is_dup.astype(np.float32)),
                message_column(CODE): pa.array(messages, pa.string()),
                related_column(CODE): pa.array(related, pa.list_(pa.string())),
                "exact_dup_cluster": pa.array(np.where(sizes > 1, kept, -1).astype(np.int64)),
            },
            summary={
                "key": self.settings.key,
                "duplicates": duplicates,
                "groups": len(np.unique(kept[sizes > 1])),
            },
        )
