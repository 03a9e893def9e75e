"""Turns check scores into keep/drop: a record is dropped when a check whose action is `drop`
scores at or above its threshold; `flag` checks are reported without dropping.

Every decision is derived from the signal columns alone, so changing an action or a threshold
re-decides without recomputing any signal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from curata.checks.columns import check_column_types, score_column
from curata.checks.registry import CHECKS, Action
from curata.review.verdicts import HUMAN_CODES, Verdict, human_columns
from curata.stages.base import DatasetResult, DatasetView, DecisionStage, ProgressCallback, StageSettings
from curata.stages.registry import register_stage

DECISION_COLUMNS: dict[str, pa.DataType] = {
    "kept": pa.bool_(),
    "reasons": pa.list_(pa.string()),
    "flags": pa.list_(pa.string()),
    "decided_by": pa.string(),
}


class DecideSettings(StageSettings):
    """Per-code overrides of the registry's default actions and thresholds."""

    actions: dict[str, Action] = Field(default_factory=dict)
    thresholds: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)
    # Filled by `curata run` from the output directory's review store (see docs/review.md).
    human: dict[str, Verdict] = Field(default_factory=dict)

    @field_validator("actions", "thresholds")
    @classmethod
    def known_codes(cls, value: dict[str, Any]) -> dict[str, Any]:
        for code in value:
            if code not in CHECKS:
                raise ValueError(f"unknown check code '{code}' (known: {', '.join(sorted(CHECKS))})")
        return value


@register_stage
class Decide(DecisionStage):
    name = "decide"
    description = "keep or drop each record from its check scores (actions and thresholds per code)"
    Settings = DecideSettings
    settings: DecideSettings
    codes: tuple[str, ...] = ()

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.codes = tuple(dict.fromkeys(codes))
        missing = [c for c in [*self.settings.actions, *self.settings.thresholds] if c not in self.codes]
        if missing:
            raise ValueError(
                f"check '{missing[0]}' is not computed by any earlier stage "
                f"(computed: {', '.join(self.codes) or 'none'})"
            )

    def action(self, code: str) -> Action:
        return self.settings.actions.get(code, CHECKS[code].default_action)

    def threshold(self, code: str) -> float:
        return self.settings.thresholds.get(code, CHECKS[code].default_threshold)

    def policy(self) -> dict[str, dict[str, object]]:
        return {code: {"action": self.action(code), "threshold": self.threshold(code)} for code in self.codes}

    def reads(self) -> frozenset[str]:
        human = {"id"} if self.settings.human else set()
        return frozenset(score_column(code) for code in self.codes) | human

    def writes(self) -> dict[str, pa.DataType]:
        human = {c: t for code in self.check_codes() for c, t in check_column_types(code).items()}
        return {**DECISION_COLUMNS, **human}

    def check_codes(self) -> tuple[str, ...]:
        return HUMAN_CODES if self.settings.human else ()

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        drop_codes = [c for c in self.codes if self.action(c) == "drop"]
        flag_codes = [c for c in self.codes if self.action(c) == "flag"]
        drops = self.hits(data, drop_codes, n)
        flags = self.hits(data, flag_codes, n)
        progress(n)
        columns: dict[str, pa.Array] = {
            "kept": pa.array(~drops.any(axis=1)),
            "reasons": codes_per_row(drops, drop_codes),
            "flags": codes_per_row(flags, flag_codes),
            "decided_by": pa.repeat(pa.scalar("rule"), n),
        }
        if self.settings.human:
            columns = self.human_override(data, columns)
        return DatasetResult(columns=columns, summary={"policy": self.policy()})

    def human_override(self, data: DatasetView, columns: dict[str, pa.Array]) -> dict[str, pa.Array]:
        """Reviewers' verdicts win over the rules (the rules' reasons stay as flags)."""
        decision = {name: columns[name].to_pylist() for name in DECISION_COLUMNS}
        extra = human_columns(
            data.column("id").to_pylist(),
            self.settings.human,
            decision["kept"],
            decision["reasons"],
            decision["flags"],
            decision["decided_by"],
        )
        types = self.writes()
        return {name: pa.array(values, types[name]) for name, values in {**decision, **extra}.items()}

    def hits(self, data: DatasetView, codes: Sequence[str], n: int) -> np.ndarray:
        """An (n, len(codes)) boolean matrix: which of these checks reach their threshold per row."""
        out = np.zeros((n, len(codes)), dtype=bool)
        for j, code in enumerate(codes):
            scores = np.nan_to_num(data.numpy(score_column(code)).astype(np.float64), nan=0.0)
            out[:, j] = scores >= self.threshold(code)
        return out


def codes_per_row(hits: np.ndarray, codes: Sequence[str]) -> pa.ListArray:
    """The codes that hit each row, in recipe order, built from offsets (no Python list per row)."""
    offsets = np.zeros(len(hits) + 1, dtype=np.int32)
    np.cumsum(hits.sum(axis=1), out=offsets[1:])
    _, which = np.nonzero(hits)
    values = pa.array(np.asarray(codes, dtype=object)[which] if len(codes) else [], pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets), values)
