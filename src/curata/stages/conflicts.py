"""Conflicting duplicates: the same prompt (after normalisation, or in the same prompt-side
near-duplicate cluster) answered differently or labelled differently. A consistency problem the
user must see, not a silent drop: every member of a conflicting group is flagged, with the other
members as `related`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.checks.columns import check_column_types, message_column, related_column, score_column
from curata.checks.registry import declare_check
from curata.select.splits import linked_groups
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.dedup_exact import group_keys
from curata.stages.normalize import digest_column, digest_matrix
from curata.stages.registry import register_stage

CODE = "conflicting_duplicate"
declare_check(
    CODE, description="same or near-same prompt as another record, with a different answer or label"
)
MAX_RELATED = 20
# Written by a prompt-key / response-key near_dedup stage: used whenever an earlier stage wrote them.
AUTO_PROMPT_CLUSTERS = ("near_dup_cluster_prompt",)
AUTO_RESPONSE_CLUSTERS = ("near_dup_cluster_response",)


class ConflictSettings(StageSettings):
    # Prompt-side cluster columns (e.g. from near or semantic dedup on the prompt key) to group by,
    # besides identical normalised prompts.
    prompt_clusters: list[str] = Field(default_factory=list)
    # Only the label is compared for classification data; answers are compared otherwise.
    compare: str = "auto"


def digest_groups(digests: pa.ChunkedArray) -> np.ndarray:
    """Cluster ids for rows sharing a digest, -1 for unique rows."""
    values = digest_matrix(digests).view("V16").ravel()
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    return np.where(counts[inverse] > 1, inverse, -1).astype(np.int64)


@register_stage
class Conflicts(DatasetStage):
    name = "conflicts"
    description = "same prompt, different answer or label: flag every member of the group"
    Settings = ConflictSettings
    settings: ConflictSettings
    prompt_clusters: tuple[str, ...] = ()
    response_clusters: tuple[str, ...] = ()

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        missing = [c for c in self.settings.prompt_clusters if c not in available]
        if missing:
            raise ValueError(f"prompt cluster column '{missing[0]}' is not written by any earlier stage")
        auto = [c for c in AUTO_PROMPT_CLUSTERS if c in available]
        self.prompt_clusters = tuple(dict.fromkeys([*self.settings.prompt_clusters, *auto]))
        self.response_clusters = tuple(c for c in AUTO_RESPONSE_CLUSTERS if c in available)

    def reads(self) -> frozenset[str]:
        return frozenset(
            {
                "id",
                "label",
                digest_column("prompt"),
                digest_column("response"),
                *self.prompt_clusters,
                *self.response_clusters,
            }
        )

    def writes(self) -> dict[str, pa.DataType]:
        return check_column_types(CODE, related=True)

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        clusters = [digest_groups(data.column(digest_column("prompt")))]
        clusters += [np.asarray(data.numpy(c), dtype=np.int64) for c in self.prompt_clusters]
        groups = linked_groups(n, clusters)
        responses = digest_matrix(data.column(digest_column("response")))
        if self.response_clusters:
            # Near-identical answers (one response-side near-dup cluster) count as the same answer.
            near = [np.asarray(data.numpy(c), dtype=np.int64) for c in self.response_clusters]
            linked = linked_groups(n, [digest_groups(data.column(digest_column("response"))), *near])
            key = np.where(linked >= 0, linked, -(np.arange(n) + 2)).astype(np.int64)
            responses = np.stack([key.view(np.uint64), np.zeros(n, dtype=np.uint64)], axis=1)
        flagged = self.flag(groups, data.column("label"), responses, data.column("id"))
        progress(n)
        return DatasetResult(columns=flagged.columns, summary=flagged.summary())

    def flag(
        self,
        groups: np.ndarray,
        labels: pa.Array | pa.ChunkedArray,
        responses: np.ndarray,
        ids: pa.Array | pa.ChunkedArray,
    ) -> Flagged:
        """Flag every member of each conflicting group. `groups` holds a group number per row (in
        row order); Python objects are made only for rows that share a group."""
        n = len(groups)
        scores = np.zeros(n, dtype=np.float32)
        messages = np.full(n, None, dtype=object)
        related = np.full(n, None, dtype=object)
        sizes = np.bincount(groups) if n else np.zeros(0, dtype=np.int64)
        shared = np.flatnonzero(sizes[groups] > 1) if n else np.zeros(0, dtype=np.int64)
        order = shared[np.argsort(groups[shared], kind="stable")]
        bounds = np.flatnonzero(np.diff(groups[order])) + 1
        taken = pa.array(order, pa.int64())
        order_labels = labels.take(taken).to_pylist()
        order_ids = ids.take(taken).to_pylist()
        order_responses = responses[order].view("V16").ravel()
        conflicting_groups = 0
        for positions in np.split(np.arange(len(order)), bounds) if len(order) else []:
            member_labels = {order_labels[p] for p in positions}
            by_label = any(label is not None for label in member_labels) and len(member_labels) > 1
            by_answer = self.settings.compare != "label" and len(np.unique(order_responses[positions])) > 1
            if not (by_label or by_answer):
                continue
            conflicting_groups += 1
            what = (
                "labels " + ", ".join(sorted(str(x) for x in member_labels))
                if by_label
                else "different answers"
            )
            # The first MAX_RELATED others in row order, without a quadratic walk of big groups.
            head = positions[: MAX_RELATED + 1]
            message = f"same prompt as {len(positions) - 1} other record(s) with {what}"
            for p in positions:
                m = order[p]
                scores[m] = 1.0
                related[m] = [order_ids[o] for o in head if o != p][:MAX_RELATED]
                messages[m] = message
        return Flagged(
            {
                score_column(CODE): pa.array(scores),
                message_column(CODE): pa.array(messages, pa.string()),
                related_column(CODE): pa.array(related, pa.list_(pa.string())),
            },
            conflicting_groups,
        )

    def ray_analyse(self, rows: Any) -> Any:
        """Identical prompts only (no `prompt_clusters`): hash-partition by the prompt digest, so
        every group lands whole in one partition, and flag each partition in row order. Linking
        through cluster columns is transitive across the whole set, so it runs on the driver."""
        if self.prompt_clusters or self.response_clusters:
            return None
        from curata.engines.ray_engine import RayResult, digest_key, group_by_key

        prompt = digest_column("prompt")

        def per_partition(batch: pa.Table) -> pa.Table:
            batch = batch.sort_by("_row")
            flagged = self.flag(
                group_keys(digest_matrix(batch.column(prompt))),
                batch.column("label"),
                digest_matrix(batch.column(digest_column("response"))),
                batch.column("id"),
            )
            return pa.table({"_row": batch.column("_row"), **flagged.columns})

        result = group_by_key(rows, digest_key(prompt), per_partition)
        return RayResult(result, [], self.summarize)

    def summarize(self, data: DatasetView) -> dict[str, Any]:
        """The summary from the written column: conflicting groups are the distinct prompts of
        the flagged rows (groups are identical prompts on this path)."""
        flagged = np.flatnonzero(data.numpy(score_column(CODE)))
        prompts = digest_matrix(data.take(flagged, [digest_column("prompt")]).column(0))
        return {"conflicting_groups": len(np.unique(prompts.view("V16").ravel())), "records": len(flagged)}


@dataclass
class Flagged:
    columns: dict[str, pa.Array]
    conflicting_groups: int

    def summary(self) -> dict[str, Any]:
        records = int(np.count_nonzero(self.columns[score_column(CODE)].to_numpy()))
        return {"conflicting_groups": self.conflicting_groups, "records": records}
