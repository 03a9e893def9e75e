"""Train / validation / test splits of the kept records, with every duplicate cluster (the
`*_dup_cluster*` columns of exact, near and semantic dedup, for every key, and near dedup's
`*_dup_component*`: the connected component its stars were cut from) and every group of
identical prompts in a single split."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

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
                "leakage": {"clusters_spanning_splits": leaks, "total": int(sum(leaks.values()))},
            },
        )
