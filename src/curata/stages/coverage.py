"""Coverage: what the set covers and where it is thin.

- task types of instruction data (classification, QA, generation, rewrite, code, math,
  extraction, brainstorm, other; see `checks.task_types`), as a `task_type` column and counts;
- `coverage_gap` (dataset-level findings, `id` null): a label, topic or task type the recipe
  declares with fewer than `min_examples` records, and topic clusters (the `topics` stage's
  `topic_cluster` column, when present) much thinner than the average cluster.

Declared topics are matched by keywords in the prompt: `expected_topics: {cooking: [recipe, bake]}`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from curata.checks.registry import declare_check
from curata.checks.task_types import TASK_TYPES, task_type
from curata.stages.base import (
    DatasetResult,
    DatasetStage,
    DatasetView,
    Finding,
    ProgressCallback,
    StageSettings,
)
from curata.stages.formats import last_turns
from curata.stages.registry import register_stage

CODE = "coverage_gap"
declare_check(CODE, description="dataset-level: a declared label or topic has too few examples")
TOPIC_COLUMN = "topic_cluster"


class CoverageSettings(StageSettings):
    expected_labels: list[str] = Field(default_factory=list)
    expected_topics: dict[str, list[str]] = Field(default_factory=dict)
    expected_task_types: list[str] = Field(default_factory=list)
    # A declared label, topic or task type needs at least this many records.
    min_examples: int = Field(20, ge=1)
    # A topic cluster smaller than this share of the mean cluster size is thin.
    thin_cluster_share: float = Field(0.2, gt=0.0, le=1.0)

    @field_validator("expected_task_types")
    @classmethod
    def known_task_types(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in TASK_TYPES:
                raise ValueError(f"unknown task type '{name}' (known: {', '.join(TASK_TYPES)})")
        return value


def gap(message: str, score: float, **extra: object) -> Finding:
    return Finding(check=CODE, severity="warning", message=message, score=score, extra=extra)


@register_stage
class Coverage(DatasetStage):
    name = "coverage"
    description = "task types, declared labels/topics and topic clusters with too few examples"
    Settings = CoverageSettings
    settings: CoverageSettings
    use_topics: bool = False

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.use_topics = TOPIC_COLUMN in available

    def reads(self) -> frozenset[str]:
        return frozenset({"turns", "label", *([TOPIC_COLUMN] if self.use_topics else [])})

    def writes(self) -> dict[str, pa.DataType]:
        return {"task_type": pa.string()}

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        s = self.settings
        types: list[str | None] = []
        topic_patterns = {
            topic: re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keys) + r")\b", re.IGNORECASE)
            for topic, keys in s.expected_topics.items()
        }
        topic_counts: Counter[str] = Counter()
        for batch in data.iter_batches(["turns"]):
            for turns in batch.column("turns").to_pylist():
                prompt, answer = last_turns(turns)
                types.append(task_type(prompt) if answer is not None else None)
                for topic, pattern in topic_patterns.items():
                    if pattern.search(prompt):
                        topic_counts[topic] += 1
            progress(batch.num_rows)
        type_counts = Counter(t for t in types if t is not None)
        labels = Counter(label for label in data.column("label").to_pylist() if label is not None)
        findings: list[Finding] = []
        for what, declared, counts in (
            ("label", s.expected_labels, labels),
            ("topic", list(s.expected_topics), topic_counts),
            ("task type", s.expected_task_types, type_counts),
        ):
            for name in declared:
                have = counts.get(name, 0)
                if have < s.min_examples:
                    findings.append(
                        gap(
                            f"declared {what} '{name}' has {have} record(s); "
                            f"at least {s.min_examples} expected",
                            1.0 - have / s.min_examples,
                            kind=what,
                            name=name,
                            count=have,
                        )
                    )
        summary: dict[str, object] = {"task_types": dict(type_counts.most_common())}
        if s.expected_topics:
            summary["topics"] = {t: topic_counts.get(t, 0) for t in s.expected_topics}
        if self.use_topics:
            findings += self.thin_clusters(data, summary)
        return DatasetResult(
            columns={"task_type": pa.array(types, pa.string())}, findings=findings, summary=summary
        )

    def thin_clusters(self, data: DatasetView, summary: dict[str, object]) -> list[Finding]:
        clusters = data.numpy(TOPIC_COLUMN).astype(np.int64)
        clusters = clusters[clusters >= 0]
        if not len(clusters):
            return []
        ids, sizes = np.unique(clusters, return_counts=True)
        floor = sizes.mean() * self.settings.thin_cluster_share
        thin = [(int(c), int(k)) for c, k in zip(ids, sizes, strict=True) if k < floor]
        summary["topic_clusters"] = {
            "clusters": len(ids),
            "mean_size": round(float(sizes.mean()), 2),
            "thin": len(thin),
        }
        return [
            gap(
                f"topic cluster {c} has {k} record(s), under {self.settings.thin_cluster_share:.0%} "
                f"of the mean cluster size ({sizes.mean():.1f})",
                1.0 - k / floor,
                kind="topic_cluster",
                name=c,
                count=k,
            )
            for c, k in thin
        ]
