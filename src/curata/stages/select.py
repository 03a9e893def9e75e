"""Select a budget of records among those the rules keep: DEITA's redundancy filter with a
quality/diversity blend (`diversity: 0` is DEITA's published score-first walk), k-center greedy,
quotas per label or cluster, or simply the top scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curata.checks.columns import message_column, score_column
from curata.checks.registry import declare_check
from curata.diversity import mean_pairwise_distance, vendi_score
from curata.select.methods import k_center_greedy, score_order, spread_select, stratified_quota
from curata.stages.base import DatasetResult, DatasetView, DecisionStage, ProgressCallback, StageSettings
from curata.stages.registry import register_stage

CODE = "not_selected"
declare_check(CODE, description="kept by the rules but not chosen by the selection budget", action="drop")
EMBEDDING = "embedding"


class SelectSettings(StageSettings):
    n: int | None = Field(default=None, ge=1)
    fraction: float | None = Field(default=None, gt=0.0, le=1.0)
    method: Literal["deita", "kcenter", "quota", "top"] = "deita"
    score: str = "quality"
    threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    # DEITA only: weight of the mean cosine distance to the records already chosen against the
    # score, both standardised; 0 walks by score alone as DEITA publishes (see docs/semantic.md).
    diversity: float = Field(default=1.0, ge=0.0)
    by: Literal["label", "cluster"] | None = None
    cluster_column: str = "topic_cluster"
    balance: bool = False
    cap: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def one_budget(self) -> SelectSettings:
        if (self.n is None) == (self.fraction is None):
            raise ValueError("give exactly one of 'n' (a number of records) or 'fraction'")
        if self.method == "quota" and self.by is None:
            raise ValueError("method 'quota' needs 'by': label or cluster")
        return self

    def budget(self, eligible: int) -> int:
        if self.n is not None:
            return min(self.n, eligible)
        assert self.fraction is not None
        return min(eligible, max(1, round(self.fraction * eligible)))


@register_stage
class Select(DecisionStage):
    name = "select"
    description = "choose a budget of kept records maximising quality and diversity"
    Settings = SelectSettings
    settings: SelectSettings

    def needs_embeddings(self) -> bool:
        return self.settings.method in ("deita", "kcenter") or (
            self.settings.method == "quota" and EMBEDDING in self.available
        )

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.available = dict(available)

    def reads(self) -> frozenset[str]:
        needed = {"kept", self.settings.score}
        if self.settings.method in ("deita", "kcenter"):
            needed.add(EMBEDDING)
        if self.settings.by == "label":
            needed.add("label")
        if self.settings.by == "cluster":
            needed.add(self.settings.cluster_column)
        return frozenset(needed)

    def writes(self) -> dict[str, pa.DataType]:
        return {"selected": pa.bool_(), score_column(CODE): pa.float32(), message_column(CODE): pa.string()}

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        kept = data.numpy("kept").astype(bool)
        eligible = np.flatnonzero(kept)
        scores = np.nan_to_num(data.numpy(self.settings.score).astype(np.float64), nan=0.0)
        budget = self.settings.budget(len(eligible)) if len(eligible) else 0
        self.embeddings: np.ndarray | None = None
        chosen = self.choose(data, eligible, scores, budget)
        selected = np.zeros(n, dtype=bool)
        selected[chosen] = True
        dropped = kept & ~selected
        method = self.settings.method
        messages = [f"not among the {budget:,} records chosen by '{method}'" if d else None for d in dropped]
        progress(n)
        baseline = (
            np.random.default_rng(0).choice(eligible, size=budget, replace=False) if budget else eligible[:0]
        )
        summary = {
            "method": method,
            "budget": budget,
            "eligible": len(eligible),
            "selected": int(selected.sum()),
            "mean_score_selected": float(scores[selected].mean()) if selected.any() else None,
            "mean_score_eligible": float(scores[eligible].mean()) if len(eligible) else None,
            "mean_score_random": float(scores[baseline].mean()) if budget else None,
        }
        if self.settings.method == "deita":
            summary["diversity_weight"] = self.settings.diversity
        if self.embeddings is not None and budget:
            position = np.full(n, -1, dtype=np.int64)
            position[eligible] = np.arange(len(eligible))
            summary["diversity_selected"] = diversity_figures(self.embeddings[position[chosen]])
            summary["diversity_random"] = diversity_figures(self.embeddings[position[baseline]])
        return DatasetResult(
            columns={
                "selected": pa.array(selected),
                score_column(CODE): pa.array(dropped.astype(np.float32)),
                message_column(CODE): pa.array(messages, pa.string()),
            },
            summary=summary,
        )

    def choose(self, data: DatasetView, eligible: np.ndarray, scores: np.ndarray, budget: int) -> np.ndarray:
        if budget == 0:
            return np.zeros(0, dtype=np.int64)
        sub_scores = scores[eligible]
        picked = self.pick(data, eligible, sub_scores, budget)
        return np.asarray(eligible[picked], dtype=np.int64)

    def pick(
        self, data: DatasetView, eligible: np.ndarray, sub_scores: np.ndarray, budget: int
    ) -> np.ndarray:
        """Positions within `eligible` of the chosen records."""
        s = self.settings
        if s.method == "top":
            return score_order(sub_scores)[:budget]
        embeddings = embedding_matrix(data, eligible) if self.needs_embeddings() else None
        self.embeddings = embeddings
        if s.method == "deita":
            assert embeddings is not None
            return spread_select(sub_scores, embeddings, budget, s.threshold, s.diversity)
        if s.method == "kcenter":
            assert embeddings is not None
            return k_center_greedy(embeddings, budget, scores=sub_scores)
        column = "label" if s.by == "label" else s.cluster_column
        groups = [None if g is None else str(g) for g in data.column(column).to_pylist()]
        return stratified_quota(
            [groups[i] for i in eligible],
            sub_scores,
            budget,
            balance=s.balance,
            cap=s.cap,
            embeddings=embeddings,
            threshold=s.threshold,
        )


def diversity_figures(vectors: np.ndarray) -> dict[str, float]:
    return {
        "mean_pairwise_cosine_distance": round(mean_pairwise_distance(vectors), 4),
        "vendi": round(vendi_score(vectors), 2),
    }


def embedding_matrix(data: DatasetView, rows: np.ndarray) -> np.ndarray:
    table = data.take(rows, [EMBEDDING])
    column = table.column(EMBEDDING).combine_chunks()
    width = column.type.list_size
    return np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, width)
