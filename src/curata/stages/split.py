"""Train / validation / test splits of the kept records, with every duplicate cluster (the
`*_dup_cluster*` columns of exact, near and semantic dedup, for every key, and near dedup's
`*_dup_component*`: the connected component its stars were cut from) and every group of
identical prompts in a single split. Near dedup's LSH can miss pairs in large templated buckets,
so groups are also joined by every pair with word n-gram Jaccard at or above the near-duplicate
threshold found exactly among the rows split (`curata.select.near_join`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from curata.dedup.shingles import shingle_texts
from curata.dedup.sides import key_turns
from curata.select.near_join import near_pairs_across
from curata.select.splits import assign_splits, cross_split_links, linked_groups
from curata.stages.base import DatasetResult, DatasetView, DecisionStage, ProgressCallback, StageSettings
from curata.stages.normalize import digest_column, digest_matrix
from curata.stages.registry import register_stage

# exact_dup_cluster, near_dup_cluster_prompt, near_dup_component, semantic_dup_cluster, ...
DUP_COLUMN = re.compile(r"_dup_(cluster|component)(_[a-z]+)?$")
PROMPT_DIGEST = digest_column("prompt")


class SplitSettings(StageSettings):
    fractions: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1}
    )
    stratify: Literal["label", "cluster", "none"] = "label"
    cluster_column: str = "topic_cluster"
    seed: int = 0
    # The exact near-duplicate join over the rows split (near_dedup's defaults: word 2-grams,
    # Jaccard 0.5, at least 10 shingles); off above `near_join_max_rows` rows or with `near_join: false`.
    near_join: bool = True
    near_threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    near_n: int = Field(default=2, ge=1, le=16)
    near_min_shingles: int = Field(default=10, ge=1)
    near_join_max_rows: int = Field(default=50_000, ge=0)

    @field_validator("fractions")
    @classmethod
    def positive(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(v < 0 for v in value.values()) or sum(value.values()) <= 0:
            raise ValueError("fractions must be non-negative and sum to more than 0")
        return value


@register_stage
class Split(DecisionStage):
    name = "split"
    description = "leak-free train/validation/test splits, stratified by label or cluster"
    Settings = SplitSettings
    settings: SplitSettings

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.dup_columns = sorted(
            c for c in available if DUP_COLUMN.search(c) and pa.types.is_integer(available[c])
        )
        self.has_selection = "selected" in available
        self.has_prompt_digest = PROMPT_DIGEST in available

    def reads(self) -> frozenset[str]:
        needed = {"kept", "label", *self.dup_columns}
        if self.settings.near_join:
            needed.add("turns")
        if self.has_selection:
            needed.add("selected")
        if self.has_prompt_digest:
            needed.add(PROMPT_DIGEST)
        if self.settings.stratify == "cluster":
            needed.add(self.settings.cluster_column)
        return frozenset(needed)

    def writes(self) -> dict[str, pa.DataType]:
        return {"split": pa.string()}

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        final = data.numpy("kept").astype(bool)
        if self.has_selection:
            final &= data.numpy("selected").astype(bool)
        rows = np.flatnonzero(final)
        columns = {c: data.numpy(c)[rows] for c in self.dup_columns}
        if self.has_prompt_digest:
            digests = digest_matrix(data.column(PROMPT_DIGEST)).view("V16").ravel()[rows]
            columns["same_prompt"] = np.unique(digests, return_inverse=True)[1].ravel()
            # Singletons are not clusters.
            counts = np.bincount(columns["same_prompt"])
            columns["same_prompt"] = np.where(counts[columns["same_prompt"]] > 1, columns["same_prompt"], -1)
        groups = linked_groups(len(rows), list(columns.values()))
        groups, joined = self.join_near_pairs(data, rows, groups)
        strata = None
        if self.settings.stratify != "none":
            source = "label" if self.settings.stratify == "label" else self.settings.cluster_column
            values = data.column(source).to_pylist()
            strata = [None if values[r] is None else str(values[r]) for r in rows]
        assigned = assign_splits(groups, strata, self.settings.fractions, self.settings.seed)
        split: list[str | None] = [None] * n
        for row, name in zip(rows.tolist(), assigned.tolist(), strict=True):
            split[row] = name
        progress(n)
        leaks = cross_split_links(assigned, columns)
        return DatasetResult(
            columns={"split": pa.array(split, pa.string())},
            summary={
                "sizes": dict(Counter(assigned.tolist())),
                "fractions": self.settings.fractions,
                "stratify": self.settings.stratify,
                "groups": len(np.unique(groups)) if len(groups) else 0,
                "leakage": {
                    "clusters_spanning_splits": leaks,
                    "total": int(sum(leaks.values())),
                    "near_join": joined,
                },
            },
        )

    def join_near_pairs(
        self, data: DatasetView, rows: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, dict[str, object]]:
        """Groups merged along every near-duplicate pair across them; a summary of the join."""
        s = self.settings
        if not s.near_join or len(rows) > s.near_join_max_rows:
            reason = "off" if not s.near_join else f"skipped: more than {s.near_join_max_rows:,} rows"
            return groups, {"status": reason}
        turns = data.take(rows, ["turns"]).column("turns")
        contents, record_of_text = key_turns(turns, "conversation")
        shingles = shingle_texts(contents, record_of_text, len(rows), "word", s.near_n)
        left, right, checked = near_pairs_across(shingles, groups, s.near_threshold, s.near_min_shingles)
        before = len(np.unique(groups)) if len(groups) else 0
        if len(left):
            size = int(groups.max()) + 1
            edges = coo_matrix(
                (np.ones(len(left), dtype=np.int8), (groups[left], groups[right])), shape=(size, size)
            )
            merged = connected_components(edges, directed=False)[1]
            groups = np.asarray(merged[groups], dtype=np.int64)
        after = len(np.unique(groups)) if len(groups) else 0
        return groups, {
            "status": "done",
            "threshold": s.near_threshold,
            "candidates_checked": checked,
            "pairs_across_groups": len(left),
            "groups_merged": before - after,
        }
