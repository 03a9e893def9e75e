"""Near duplicates: records whose word (or character) n-gram sets have a Jaccard similarity at or
above the threshold, found with MinHash-LSH and verified on the true sets (see `curata.dedup.near`).
Each cluster (connected through verified pairs) keeps one record, the highest `quality` where that
column exists, else the first; the others are scored 1.0 with `related` naming the kept record."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curata.checks.columns import check_column_types, message_column, related_column, score_column
from curata.checks.registry import declare_check
from curata.dedup.keys import cluster_column, code_for, declare_key_codes
from curata.dedup.near import NearDedupParams, SignatureMethod, find_near_duplicates, sketch
from curata.dedup.shingles import ShingleKind, Shingles, shingle_texts
from curata.dedup.sides import key_turns
from curata.records import DedupKey
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.dedup_exact import representatives
from curata.stages.registry import register_stage

BASE_CODE = "near_duplicate"
BASE_CLUSTER = "near_dup_cluster"
BASE_SIMILARITY = "near_dup_similarity"
# The whole connected component (its lowest row), which `split` keeps in one split: stars of one
# component can still hold near-duplicate pairs across them.
BASE_COMPONENT = "near_dup_component"
declare_key_codes(
    BASE_CODE,
    description="high n-gram Jaccard similarity to another record (MinHash-LSH, verified)",
    conversation_action="drop",
    declare=declare_check,
)
DEFAULTS = NearDedupParams()


class NearDedupSettings(StageSettings):
    key: DedupKey = "conversation"
    shingle: ShingleKind = DEFAULTS.shingle
    n: int = Field(DEFAULTS.n, ge=1, le=16)
    num_perm: int = Field(DEFAULTS.num_perm, ge=8, le=1024)
    bands: int = Field(DEFAULTS.bands, ge=1)
    rows: int = Field(DEFAULTS.rows, ge=1)
    threshold: float = Field(DEFAULTS.threshold, gt=0.0, le=1.0)
    min_shingles: int = Field(DEFAULTS.min_shingles, ge=1)
    method: SignatureMethod = DEFAULTS.method
    seed: int = DEFAULTS.seed

    @model_validator(mode="after")
    def bands_fit(self) -> NearDedupSettings:
        self.params().check()
        return self

    def params(self) -> NearDedupParams:
        return NearDedupParams(
            method=self.method,
            shingle=self.shingle,
            n=self.n,
            num_perm=self.num_perm,
            bands=self.bands,
            rows=self.rows,
            threshold=self.threshold,
            min_shingles=self.min_shingles,
            seed=self.seed,
        )


def key_shingles(turns: pa.ChunkedArray | pa.Array, key: DedupKey, params: NearDedupParams) -> Shingles:
    """Shingles of one side of each record of a batch."""
    contents, record_of_text = key_turns(turns, key)
    return shingle_texts(contents, record_of_text, len(turns), params.shingle, params.n)


def component_ids(labels: np.ndarray) -> np.ndarray:
    """Per row, the lowest row of its component, or -1 when it is alone."""
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inverse, counts = np.unique(labels, return_index=True, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    return np.where(counts[inverse] > 1, first[inverse], -1).astype(np.int64)


def pick_scores(quality: np.ndarray | None, exact: np.ndarray | None) -> np.ndarray | None:
    """The score that picks each cluster's kept record: quality, with exact copies (already
    rejected by exact_dedup) ranked last."""
    if exact is None:
        return quality
    base = np.zeros(len(exact)) if quality is None else np.nan_to_num(quality.astype(np.float64), nan=-1.0)
    return np.where(exact, -2.0, base)


@register_stage
class NearDedup(DatasetStage):
    name = "near_dedup"
    description = "near duplicates of the chosen key (MinHash-LSH over n-grams, verified by Jaccard)"
    Settings = NearDedupSettings
    settings: NearDedupSettings

    use_quality = False
    # The same key's exact-duplicate score, when an earlier exact_dedup wrote it: exact copies are
    # already rejected there, so they are never kept for a near cluster nor reported twice.
    exact_column: str | None = None

    @property
    def code(self) -> str:
        return code_for(BASE_CODE, self.settings.key)

    @property
    def cluster(self) -> str:
        return cluster_column(BASE_CLUSTER, self.settings.key)

    @property
    def similarity(self) -> str:
        return cluster_column(BASE_SIMILARITY, self.settings.key)

    @property
    def component(self) -> str:
        return cluster_column(BASE_COMPONENT, self.settings.key)

    def reads(self) -> frozenset[str]:
        extra = {"quality"} if self.use_quality else set()
        if self.exact_column is not None:
            extra.add(self.exact_column)
        return frozenset({"id", "turns", *extra})

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.use_quality = "quality" in available
        exact = score_column(code_for("exact_duplicate", self.settings.key))
        self.exact_column = exact if exact in available else None

    def writes(self) -> dict[str, pa.DataType]:
        return {
            **check_column_types(self.code, related=True),
            self.cluster: pa.int64(),
            self.similarity: pa.float32(),
            self.component: pa.int64(),
        }

    def check_codes(self) -> tuple[str, ...]:
        return (self.code,)

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        params = self.settings.params()
        key = self.settings.key

        def batches() -> Iterator[Shingles]:
            for table in data.iter_batches(["turns"]):
                yield key_shingles(table.column("turns"), key, params)
                progress(table.num_rows)

        scratch_root: Path | None = getattr(data, "scratch_dir", None)
        scratch = scratch_root / f"near_dedup_{key}" if scratch_root is not None else None
        exact = data.numpy(self.exact_column) > 0 if self.exact_column is not None else None
        quality = pick_scores(data.numpy("quality") if self.use_quality else None, exact)

        def pick(labels: np.ndarray) -> np.ndarray:
            return representatives(labels, quality, np.arange(n))

        try:
            found = find_near_duplicates(sketch(batches(), n, params, scratch), params, pick)
        finally:
            if scratch is not None:
                with contextlib.suppress(OSError):
                    shutil.rmtree(scratch)
        ids = data.column("id").to_pylist()
        to_kept = found.to_kept if found.to_kept is not None else found.best_similarity()
        columns = self.columns(found.labels, found.best_similarity(), quality, ids, to_kept, exact)
        joined = found.components if found.components is not None else found.labels
        columns[self.component] = pa.array(component_ids(joined))
        return DatasetResult(
            columns=columns, summary=self.summary(columns, found.candidates, len(found.left))
        )

    def ray_analyse(self, rows: Any) -> Any:
        """The same clusters by distributed steps (`curata.dedup.near_ray`); only the rows with a
        passing candidate pair (their ids, scores, verified edges) are gathered on the driver."""
        from curata.dedup.near import split_stars
        from curata.dedup.near_ray import find_ray
        from curata.engines.ray_engine import RayResult

        params = self.settings.params()
        key = self.settings.key
        keep = ["id", *(["quality"] if self.use_quality else []), *filter(None, [self.exact_column])]

        def shingler(turns: pa.ChunkedArray) -> Shingles:
            return key_shingles(turns, key, params)

        near = find_ray(rows, shingler, params, keep)
        if near is None:
            return None
        meta, nodes = near.meta, near.nodes
        exact = meta.column(self.exact_column).to_numpy() > 0 if self.exact_column is not None else None
        quality = pick_scores(meta.column("quality").to_numpy() if self.use_quality else None, exact)

        def pick(labels: np.ndarray) -> np.ndarray:
            return representatives(labels, quality, nodes)

        edges = (near.found.left, near.found.right)
        labels, to_kept = split_stars(near.found.labels, near.jaccard, params.threshold, pick, edges=edges)
        columns = self.columns(
            labels, near.found.best_similarity(), quality, meta.column("id").to_pylist(), to_kept, exact
        )
        columns[self.component] = pa.array(component_ids(near.found.labels))
        for name in (self.cluster, self.component):
            local = columns[name].to_numpy()
            columns[name] = pa.array(np.where(local >= 0, nodes[local.clip(0)], -1).astype(np.int64))
        score = score_column(self.code)
        members = pa.table({"_row": pa.array(nodes, pa.int64()), **columns})
        fill = {score: 0.0, self.cluster: -1, self.component: -1, self.similarity: 0.0}
        out = near.assign(members, fill)
        candidates, verified = near.found.candidates, len(near.found.left)

        def summarize(view: DatasetView) -> dict[str, Any]:
            written = {name: pa.array(view.numpy(name)) for name in (score, self.cluster)}
            return self.summary(written, candidates, verified)

        return RayResult(out, [], summarize)

    def columns(
        self,
        labels: np.ndarray,
        similarity: np.ndarray,
        quality: np.ndarray | None,
        ids: list[str],
        to_kept: np.ndarray | None = None,
        exact: np.ndarray | None = None,
    ) -> dict[str, pa.Array]:
        """`similarity`: each row's best verified Jaccard; `to_kept`: its Jaccard to the kept row."""
        to_kept = similarity if to_kept is None else to_kept
        n = len(labels)
        rows = np.arange(n)
        kept = representatives(labels, quality, rows) if n else np.zeros(0, np.int64)
        sizes = np.bincount(labels)[labels] if n else np.zeros(0, np.int64)
        is_dup = kept != rows
        if exact is not None:
            is_dup &= ~exact
        related = [[ids[k]] if d else None for k, d in zip(kept, is_dup, strict=True)]
        messages = [
            f"{self.settings.key} near-duplicate of {ids[k]} (n-gram Jaccard {s:.2f}; {c} records in cluster)"
            if d
            else None
            for k, d, c, s in zip(kept, is_dup, sizes, to_kept, strict=True)
        ]
        return {
            score_column(self.code): pa.array(is_dup.astype(np.float32)),
            message_column(self.code): pa.array(messages, pa.string()),
            related_column(self.code): pa.array(related, pa.list_(pa.string())),
            self.cluster: pa.array(np.where(sizes > 1, kept, -1).astype(np.int64)),
            self.similarity: pa.array(similarity.astype(np.float32)),
        }

    def summary(self, columns: dict[str, pa.Array], candidates: int, verified: int) -> dict[str, Any]:
        clusters = columns[self.cluster].to_numpy()
        return {
            "key": self.settings.key,
            "duplicates": int(np.count_nonzero(columns[score_column(self.code)].to_numpy())),
            "clusters": len(np.unique(clusters[clusters >= 0])),
            "candidate_pairs": candidates,
            "verified_pairs": verified,
            "settings": self.settings.model_dump(mode="json"),
        }
