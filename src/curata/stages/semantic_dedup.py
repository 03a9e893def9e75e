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
        kept = representatives(groups, quality) if n else np.zeros(0, dtype=np.int64)
        sizes = np.bincount(groups)[groups] if n else np.zeros(0, dtype=np.int64)
        best = best_similarity(n, pairs)
        ids = data.column("id").to_pylist()
        is_dup = kept != np.arange(n)
        messages = [
            f"same meaning as {ids[k]} (cosine up to {s:.3f}; {c} records in the cluster)" if d else None
            for k, d, s, c in zip(kept, is_dup, best, sizes, strict=True)
        ]
        clusters = np.where(sizes > 1, kept, -1).astype(np.int64)
        return DatasetResult(
            columns={
                score_column(CODE): pa.array(is_dup.astype(np.float32)),
                message_column(CODE): pa.array(messages, pa.string()),
                related_column(CODE): pa.array(
                    [[ids[k]] if d else None for k, d in zip(kept, is_dup, strict=True)],
                    pa.list_(pa.string()),
                ),
                CLUSTER: pa.array(clusters),
            },
            summary=self.summary(is_dup, clusters, len(pairs.left)),
        )

    def summary(self, is_dup: np.ndarray, clusters: np.ndarray, pairs: int) -> dict[str, Any]:
        return {
            "threshold": self.settings.threshold,
            "center": self.settings.center,
            "pairs": pairs,
            "duplicates": int(is_dup.sum()),
            "clusters": len(np.unique(clusters[clusters >= 0])),
        }
