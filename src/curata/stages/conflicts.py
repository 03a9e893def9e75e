"""Conflicting duplicates: the same prompt (after normalisation, or in the same prompt-side
near-duplicate cluster) answered differently or labelled differently. A consistency problem the
user must see, not a silent drop: every member of a conflicting group is flagged, with the other
members as `related`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.checks.columns import check_column_types, message_column, related_column, score_column
from curata.checks.registry import declare_check
from curata.select.splits import linked_groups
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
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
        labels = data.column("label").to_pylist()
        responses = digest_groups(data.column(digest_column("response")))
        if self.response_clusters:
            # Near-identical answers (one response-side near-dup cluster) count as the same answer.
            near = [np.asarray(data.numpy(c), dtype=np.int64) for c in self.response_clusters]
            responses = linked_groups(n, [responses, *near])
        response_key = np.where(responses >= 0, responses, -(np.arange(n) + 2))
        ids = data.column("id").to_pylist()
        scores = np.zeros(n, dtype=np.float32)
        messages: list[str | None] = [None] * n
        related: list[list[str] | None] = [None] * n
        sizes = np.bincount(groups)
        shared = np.flatnonzero(sizes[groups] > 1)
        order = shared[np.argsort(groups[shared], kind="stable")]
        bounds = np.flatnonzero(np.diff(groups[order])) + 1
        conflicting_groups = 0
        for members in np.split(order, bounds) if len(order) else []:
            member_labels = {labels[m] for m in members}
            by_label = any(label is not None for label in member_labels) and len(member_labels) > 1
            by_answer = self.settings.compare != "label" and len({int(response_key[m]) for m in members}) > 1
            if not (by_label or by_answer):
                continue
            conflicting_groups += 1
            what = (
                "labels " + ", ".join(sorted(str(x) for x in member_labels))
                if by_label
                else "different answers"
            )
            for m in members:
                others = [ids[o] for o in members if o != m]
                scores[m] = 1.0
                related[m] = others[:MAX_RELATED]
                messages[m] = f"same prompt as {len(others)} other record(s) with {what}"
        progress(n)
        return DatasetResult(
            columns={
                score_column(CODE): pa.array(scores),
                message_column(CODE): pa.array(messages, pa.string()),
                related_column(CODE): pa.array(related, pa.list_(pa.string())),
            },
            summary={"conflicting_groups": conflicting_groups, "records": int((scores > 0).sum())},
        )
