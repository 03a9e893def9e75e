"""The overall quality score of a record, in [0, 1], higher is better; `low_quality` below the
recipe's threshold.

    quality = base × (1 − penalty)
    penalty = max over check codes c of  weight[c] × score[c]
    base    = Σ w_s · s  /  Σ w_s   over the signals s that apply to the record:
              relevance, diversity, style, length (see `checks.quality_signals`)
              and `judge_score` (an LLM judge's 0-1 score, when that column exists and is not NaN)

A record no signal applies to (a `text_label` record) has base 1. Every weight is a recipe
setting; a weight of 0 leaves a code or signal out. The formula is monotone: a higher check
severity never raises quality, a higher judge score never lowers it. Duplicates and
contamination are not quality (a copy is as good as its original), so their default weight is 0.

`low_quality` is scored 1 − quality / (2 × threshold), clipped to [0, 1]: it reaches 0.5, the
default decision threshold, exactly when quality falls to `threshold`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.checks import quality_signals as sig
from curata.checks.columns import check_column_types, message_column, score_column
from curata.checks.registry import declare_check
from curata.stages.base import RowStage, StageSettings
from curata.stages.formats import last_turns
from curata.stages.registry import register_stage

CODE = "low_quality"
declare_check(CODE, description="quality score under the recipe's threshold", action="flag")
JUDGE = "judge_score"
SIGNALS = ("relevance", "diversity", "style", "length")
DEFAULT_CHECK_WEIGHTS = {
    "exact_duplicate": 0.0,
    "near_duplicate": 0.0,
    "semantic_duplicate": 0.0,
    "conflicting_duplicate": 0.0,
    "contamination": 0.0,
    "pii": 0.0,
    "language_mismatch": 0.5,
    "format_inconsistency": 0.5,
    # The `length` signal already scores short answers.
    "too_short": 0.0,
    "too_long": 0.2,
    "label_error": 0.5,
}


class QualitySettings(StageSettings):
    # Weight of each check code's score in the penalty (codes not named: 1.0).
    check_weights: dict[str, float] = Field(default_factory=dict)
    # Weights of the model-free signals in the base score, and of `judge_score` when present.
    signal_weights: dict[str, float] = Field(
        default_factory=lambda: {"relevance": 1.0, "diversity": 1.0, "style": 1.0, "length": 0.25}
    )
    judge_weight: float = Field(2.0, ge=0.0)
    # Records whose quality falls to this or below are `low_quality`.
    threshold: float = Field(0.3, gt=0.0, le=1.0)


def penalty(scores: Mapping[str, np.ndarray], weights: Mapping[str, float], n: int) -> np.ndarray:
    worst = np.zeros(n)
    for code, values in scores.items():
        weight = weights.get(code, DEFAULT_CHECK_WEIGHTS.get(code, 1.0))
        if weight > 0:
            worst = np.maximum(worst, weight * np.nan_to_num(values.astype(np.float64), nan=0.0))
    return np.clip(worst, 0.0, 1.0)


def combine(base: np.ndarray, worst: np.ndarray) -> np.ndarray:
    return np.clip(base * (1.0 - worst), 0.0, 1.0)


@register_stage
class Quality(RowStage):
    name = "quality"
    description = "overall quality score in [0, 1] from check severities, text signals and a judge score"
    Settings = QualitySettings
    settings: QualitySettings
    codes: tuple[str, ...] = ()
    has_judge: bool = False

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.codes = tuple(c for c in dict.fromkeys(codes) if c != CODE)
        self.has_judge = JUDGE in available
        unknown = [s for s in self.settings.signal_weights if s not in SIGNALS]
        if unknown:
            raise ValueError(f"unknown quality signal '{unknown[0]}' (known: {', '.join(SIGNALS)})")

    def reads(self) -> frozenset[str]:
        columns = {"turns", *(score_column(c) for c in self.codes)}
        return frozenset(columns | ({JUDGE} if self.has_judge else set()))

    def writes(self) -> dict[str, pa.DataType]:
        signals = {f"quality_{s}": pa.float32() for s in SIGNALS}
        return {"quality": pa.float32(), **signals, **check_column_types(CODE)}

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        n = batch.num_rows
        values = {s: np.full(n, np.nan) for s in SIGNALS}
        for i, turns in enumerate(batch.column("turns").to_pylist()):
            prompt, answer = last_turns(turns)
            if answer is None:
                continue
            values["relevance"][i] = nan_if_none(sig.relevance(prompt, answer))
            values["diversity"][i] = nan_if_none(sig.diversity(answer))
            values["style"][i] = nan_if_none(sig.style(answer))
            values["length"][i] = sig.length(len(answer.encode("utf-8")) / 4)
        weighted = [(values[s], self.settings.signal_weights.get(s, 0.0)) for s in SIGNALS]
        if self.has_judge:
            judge = batch.column(JUDGE).to_numpy(zero_copy_only=False).astype(np.float64)
            weighted.append((np.clip(judge, 0.0, 1.0), self.settings.judge_weight))
        base = weighted_mean(weighted, n)
        scores = {c: batch.column(score_column(c)).to_numpy(zero_copy_only=False) for c in self.codes}
        quality = combine(base, penalty(scores, self.settings.check_weights, n))
        low = np.clip(1.0 - quality / (2 * self.settings.threshold), 0.0, 1.0)
        messages = [
            f"quality {q:.2f} is under the threshold {self.settings.threshold:.2f}" if lo >= 0.5 else None
            for q, lo in zip(quality, low, strict=True)
        ]
        out: dict[str, pa.Array] = {"quality": pa.array(quality.astype(np.float32))}
        for s in SIGNALS:
            # Null, not NaN, where a signal does not apply: nulls compare equal across runs.
            out[f"quality_{s}"] = pa.array(values[s].astype(np.float32), mask=np.isnan(values[s]))
        out[score_column(CODE)] = pa.array(low.astype(np.float32))
        out[message_column(CODE)] = pa.array(messages, pa.string())
        return out


def nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else value


def weighted_mean(weighted: list[tuple[np.ndarray, float]], n: int) -> np.ndarray:
    """The weighted mean of the signals that apply (not NaN) per row; 1 where none does."""
    total = np.zeros(n)
    weights = np.zeros(n)
    for values, weight in weighted:
        present = np.isfinite(values)
        total += np.where(present, values, 0.0) * weight
        weights += present * weight
    return np.where(weights > 0, total / np.maximum(weights, 1e-12), 1.0)
