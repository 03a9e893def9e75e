"""Semantic duplicates: records whose embeddings are closer than a cosine threshold.

Pairs come from exact range search within k-means partitions (see `curata.dedup.semantic`),
clusters from union-find over every pair; each cluster keeps its best record (highest `quality`,
then the lowest global row) and the others score 1.0 with `related` naming the kept id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.checks.columns import check_column_types, message_column, related_column, score_column
from curata.checks.registry import declare_check
from curata.dedup.semantic import (
    PARTITION_SIZE,
    SimilarPairs,
    best_similarity,
    centred,
    components,
    one_thread,
    similar_pairs,
)
from curata.embed.base import unit_rows
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.dedup_exact import representatives
from curata.stages.embed import EMBEDDING
from curata.stages.registry import register_stage
from curata.stages.select import embedding_matrix

CODE = "semantic_duplicate"
declare_check(CODE, description="same meaning as another record (embedding similarity)", action="flag")
CLUSTER = "semantic_dup_cluster"


class SemanticDedupSettings(StageSettings):
    threshold: float = Field(default=0.95, gt=0.0, le=1.0)
    # Compare after removing the set's mean direction (see `centred`); off for raw cosine.
    center: bool = True
    partition_size: int = Field(default=PARTITION_SIZE, ge=100)
    seed: int = 0


def all_embeddings(data: DatasetView) -> np.ndarray:
    return embedding_matrix(data, np.arange(data.n_rows, dtype=np.int64))


@register_stage
class SemanticDedup(DatasetStage):
    name = "semantic_dedup"
    description = "records with the same meaning (embedding cosine ≥ threshold); one kept per cluster"
    Settings = SemanticDedupSettings
    settings: SemanticDedupSettings
    use_quality = False

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.use_quality = "quality" in available

    def reads(self) -> frozenset[str]:
        return frozenset({"id", EMBEDDING, *({"quality"} if self.use_quality else set())})

    def writes(self) -> dict[str, pa.DataType]:
        return {**check_column_types(CODE, related=True), CLUSTER: pa.int64()}

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        with one_thread():
            return self.compute(data, progress)

    def compute(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        vectors = all_embeddings(data)
        vectors = centred(vectors) if self.settings.center else unit_rows(vectors)
        pairs = similar_pairs(
            vectors,
            self.settings.threshold,
            partition_size=self.settings.partition_size,
            seed=self.settings.seed,
        )
        progress(n)
        groups = components(n, pairs)
        quality = data.numpy("quality") if self.use_quality else None
        rows = np.arange(n)
        kept = representatives(groups, quality) if n else np.zeros(0, dtype=np.int64)
        sizes = np.bincount(groups)[groups] if n else np.zeros(0, dtype=np.int64)
        columns = self.columns(kept, best_similarity(n, pairs), sizes, data.column("id").to_pylist(), rows)
        return DatasetResult(columns=columns, summary=self.summary_of(columns, len(pairs.left)))

    def columns(
        self, kept: np.ndarray, best: np.ndarray, sizes: np.ndarray, ids: list[str], rows: np.ndarray
    ) -> dict[str, pa.Array]:
        """The stage's columns for some rows (global numbers `rows`): `kept` is each one's kept
        position, `best` its best similarity, `sizes` its cluster's size."""
        is_dup = kept != np.arange(len(kept))
        messages = [
            f"same meaning as {ids[k]} (cosine up to {s:.3f}; {c} records in the cluster)" if d else None
            for k, d, s, c in zip(kept, is_dup, best, sizes, strict=True)
        ]
        clusters = np.where(sizes > 1, rows[kept] if len(kept) else kept, -1).astype(np.int64)
        return {
            score_column(CODE): pa.array(is_dup.astype(np.float32)),
            message_column(CODE): pa.array(messages, pa.string()),
            related_column(CODE): pa.array(
                [[ids[k]] if d else None for k, d in zip(kept, is_dup, strict=True)],
                pa.list_(pa.string()),
            ),
            CLUSTER: pa.array(clusters),
        }

    def summary_of(self, columns: dict[str, pa.Array], pairs: int) -> dict[str, Any]:
        is_dup = columns[score_column(CODE)].to_numpy(zero_copy_only=False) > 0
        return self.summary(is_dup, columns[CLUSTER].to_numpy(), pairs)

    def ray_analyse(self, rows: Any) -> Any:
        """The same pairs by distributed steps (`curata.dedup.semantic_ray`); only the pairs above
        the threshold, and the ids and quality of the rows in them, are gathered on the driver."""
        from curata.dedup.near_ray import assign_rows
        from curata.dedup.semantic_ray import member_table, similar_pairs_ray
        from curata.engines.ray_engine import RayResult

        settings = self.settings
        pairs, n = similar_pairs_ray(
            rows,
            EMBEDDING,
            settings.threshold,
            center=settings.center,
            partition_size=settings.partition_size,
            seed=settings.seed,
        )
        if n == 0:
            return None
        nodes = np.unique(np.concatenate([pairs.left, pairs.right]))
        local = SimilarPairs(
            np.searchsorted(nodes, pairs.left), np.searchsorted(nodes, pairs.right), pairs.similarity
        )
        meta = member_table(rows, nodes, ["id", *(["quality"] if self.use_quality else [])])
        groups = components(len(nodes), local)
        quality = meta.column("quality").to_numpy(zero_copy_only=False) if self.use_quality else None
        kept = representatives(groups, quality, nodes) if len(nodes) else np.zeros(0, dtype=np.int64)
        sizes = np.bincount(groups)[groups] if len(nodes) else np.zeros(0, dtype=np.int64)
        columns = self.columns(
            kept, best_similarity(len(nodes), local), sizes, meta.column("id").to_pylist(), nodes
        )
        summary = self.summary_of(columns, len(pairs.left))
        members = pa.table({"_row": pa.array(nodes, pa.int64()), **columns})
        out = assign_rows(
            rows.select_columns(["_row"]), nodes, members, {score_column(CODE): 0.0, CLUSTER: -1}
        )
        return RayResult(out, [], lambda view: summary)

    def summary(self, is_dup: np.ndarray, clusters: np.ndarray, pairs: int) -> dict[str, Any]:
        return {
            "threshold": self.settings.threshold,
            "center": self.settings.center,
            "pairs": pairs,
            "duplicates": int(is_dup.sum()),
            "clusters": len(np.unique(clusters[clusters >= 0])),
        }
