"""Topic clusters and diversity: k-means over the embeddings (k chosen automatically), a 2-D map,
and a summary entry with per-cluster counts, exemplars, top terms and diversity metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.dedup.semantic import centred, one_thread
from curata.diversity import diversity_metrics
from curata.records import DedupKey, side_texts
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.embed import EMBEDDING
from curata.stages.registry import register_stage
from curata.stages.semantic_dedup import all_embeddings
from curata.topics import MAX_K, assign, choose_k, exemplars, projection_2d, top_terms

SNIPPET = 160
TERM_DOCS = 300


class TopicsSettings(StageSettings):
    # None: chosen by silhouette among a few values up to ~sqrt(n/2)
    k: int | None = Field(default=None, ge=1)
    max_k: int = Field(default=MAX_K, ge=2)
    # Which side's words describe a cluster.
    terms_from: DedupKey = "prompt"
    seed: int = 0


@register_stage
class Topics(DatasetStage):
    name = "topics"
    description = "topic clusters of the embeddings, a 2-D map, and diversity metrics"
    Settings = TopicsSettings
    settings: TopicsSettings

    def reads(self) -> frozenset[str]:
        return frozenset({"id", "turns", EMBEDDING})

    def writes(self) -> dict[str, pa.DataType]:
        return {"topic_cluster": pa.int32(), "map_x": pa.float32(), "map_y": pa.float32()}

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        with one_thread():
            return self.compute(data, progress)

    def compute(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        s = self.settings
        raw = all_embeddings(data)
        vectors = centred(raw)
        silhouettes: dict[int, float] = {}
        if s.k is None:
            k, silhouettes = choose_k(vectors, s.seed, s.max_k)
        else:
            k = min(s.k, max(len(vectors), 1))
        labels, centroids = assign(vectors, k, s.seed)
        coords = projection_2d(vectors)
        progress(data.n_rows)
        summary = {
            "k": len(centroids),
            "chosen_by": "silhouette" if s.k is None else "recipe",
            "silhouette": {str(key): round(v, 4) for key, v in silhouettes.items()},
            "clusters": self.describe(data, vectors, labels, centroids),
            "diversity": diversity_metrics(raw, labels),
        }
        return DatasetResult(
            columns={
                "topic_cluster": pa.array(labels.astype(np.int32)),
                "map_x": pa.array(coords[:, 0]),
                "map_y": pa.array(coords[:, 1]),
            },
            summary=summary,
        )

    def describe(
        self, data: DatasetView, vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray
    ) -> list[dict[str, Any]]:
        """Per cluster: size, share, the records nearest its centroid, and its top terms."""
        n = len(labels)
        if n == 0:
            return []
        nearest = exemplars(vectors, labels, centroids)
        sampled = np.concatenate([np.flatnonzero(labels == c)[:TERM_DOCS] for c in sorted(nearest)])
        sampled.sort()
        texts = side_texts(data.take(sampled, ["turns"]), self.settings.terms_from)
        terms = top_terms(texts, labels[sampled])
        ids = data.column("id").to_pylist()
        counts = np.bincount(labels, minlength=len(centroids))
        out = []
        for c in sorted(nearest, key=lambda c: (-counts[c], c)):
            rows = np.asarray(nearest[c], dtype=np.int64)
            snippets = side_texts(data.take(rows, ["turns"]), self.settings.terms_from)
            out.append(
                {
                    "cluster": int(c),
                    "count": int(counts[c]),
                    "share": round(float(counts[c]) / n, 4),
                    "terms": terms.get(int(c), []),
                    "exemplars": [
                        {"id": ids[r], "text": t[:SNIPPET] + ("…" if len(t) > SNIPPET else "")}
                        for r, t in zip(rows.tolist(), snippets, strict=True)
                    ],
                }
            )
        return out
