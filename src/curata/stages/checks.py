"""Runs registered per-record checks over a batch and writes each one's score and message columns."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import Field, model_validator

from curata.checks.columns import check_column_types, message_column, score_column, turn_column
from curata.checks.registry import CHECKS, RecordCheck
from curata.records import records_from_batch
from curata.stages.base import RowStage, StageSettings
from curata.stages.registry import register_stage


class ChecksSettings(StageSettings):
    """`run` lists check codes (default: every registered per-record check); `settings` holds each
    check's own settings by code."""

    run: list[str] | None = None
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def known_checks(self) -> ChecksSettings:
        per_record = {code for code, info in CHECKS.items() if info.build is not None}
        for code in [*(self.run or []), *self.settings]:
            if code not in per_record:
                raise ValueError(
                    f"unknown per-record check '{code}' (known: {', '.join(sorted(per_record))})"
                )
        for code, values in self.settings.items():
            CHECKS[code].settings_model.model_validate(values)
        return self

    def codes(self) -> list[str]:
        if self.run is not None:
            return list(self.run)
        return sorted(code for code, info in CHECKS.items() if info.build is not None)


@register_stage
class Checks(RowStage):
    name = "checks"
    description = "per-record checks from the registry (empty, truncated, refusal, ...)"
    Settings = ChecksSettings
    settings: ChecksSettings

    def reads(self) -> frozenset[str]:
        return frozenset({"id", "turns", "label", "source", "format"})

    def writes(self) -> dict[str, pa.DataType]:
        types: dict[str, pa.DataType] = {}
        for code in self.settings.codes():
            types.update(check_column_types(code, turn=True))
        return types

    def check_codes(self) -> tuple[str, ...]:
        return tuple(self.settings.codes())

    def setup(self) -> None:
        self.checks: dict[str, RecordCheck] = {}
        for code in self.settings.codes():
            info = CHECKS[code]
            assert info.build is not None
            config = info.settings_model.model_validate(self.settings.settings.get(code, {}))
            self.checks[code] = info.build(config)

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        records = records_from_batch(batch)
        out: dict[str, pa.Array] = {}
        for code, check in self.checks.items():
            prepare = getattr(check, "prepare", None)
            if prepare is not None:
                prepare(records)
            scores: list[float] = []
            messages: list[str | None] = []
            turns: list[int | None] = []
            for record in records:
                result = check(record)
                if result is None:
                    scores.append(0.0)
                    messages.append(None)
                    turns.append(None)
                else:
                    scores.append(min(max(float(result.value), 0.0), 1.0))
                    messages.append(result.message)
                    turns.append(result.turn)
            out[score_column(code)] = pa.array(scores, pa.float32())
            out[message_column(code)] = pa.array(messages, pa.string())
            out[turn_column(code)] = pa.array(turns, pa.int32())
        return out
