"""The `judge` recipe stage: every record scored by an LLM against a rubric.

A dataset stage rather than a row stage: one event loop drives many concurrent requests over all
records (worker processes would each need their own connections and budget share). It writes
`judge_score` (float32 in [0, 1], NaN when unscored), `judge_<criterion>` on the rubric's scale,
`judge_rationale`, `judge_status` and `judge_raw` (the unreadable reply or the error, for
unscored records only). Answers are cached in `OUT/.curata/llm-cache.sqlite`, so a killed run
resumes without paying twice.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.errors import CurataError
from curata.llm.client import LLMClient
from curata.llm.config import LLMSettings
from curata.llm.judge import Judge, JudgeMethod, JudgeResult
from curata.llm.request import ChatRequest
from curata.llm.retry import FatalLLMError
from curata.llm.rubric import DEFAULT_RUBRIC, Rubric
from curata.llm.session import CACHE_NAME, open_client, run_with_client, stats_summary, work_area
from curata.records import Record, records_from_batch
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.registry import register_stage

RECORD_INPUTS = ("id", "turns", "label", "source", "format")


class JudgeSettings(StageSettings):
    llm: LLMSettings = Field(default_factory=LLMSettings)
    rubric: Rubric = DEFAULT_RUBRIC
    # One more request, showing the unreadable reply, before a record is left unscored.
    repair: bool = True
    max_tokens: int = Field(default=256, ge=16)
    # json verdicts, or score-digit probabilities (in-process models); auto picks by backend.
    method: JudgeMethod = "auto"


def criterion_column(name: str) -> str:
    return f"judge_{name}"


def score_histogram(scores: list[float], bins: int = 10) -> list[int]:
    counts, _ = np.histogram(np.asarray(scores, dtype=np.float64), bins=bins, range=(0.0, 1.0))
    return [int(c) for c in counts]


def judge_summary(results: list[JudgeResult], client: LLMClient) -> dict[str, Any]:
    statuses = Counter(r.status for r in results)
    scored = [r.score for r in results if r.score is not None]
    return {
        "records": len(results),
        "scored": statuses.get("scored", 0),
        "unparseable": statuses.get("unparseable", 0),
        "failed": statuses.get("failed", 0),
        "not_judged": statuses.get("not_judged", 0),
        "repaired": sum(r.repaired for r in results),
        "mean_score": round(float(np.mean(scored)), 4) if scored else None,
        "histogram": score_histogram(scored),
        "llm": stats_summary(client),
    }


@register_stage
class JudgeStage(DatasetStage):
    name = "judge"
    description = "LLM judge: rubric scores per record (judge_score in [0, 1], NaN when unscored)"
    Settings = JudgeSettings
    settings: JudgeSettings

    def reads(self) -> frozenset[str]:
        return frozenset(RECORD_INPUTS)

    def writes(self) -> dict[str, pa.DataType]:
        columns: dict[str, pa.DataType] = {"judge_score": pa.float32()}
        columns.update({criterion_column(n): pa.float32() for n in self.settings.rubric.names})
        columns.update(
            {"judge_rationale": pa.string(), "judge_status": pa.string(), "judge_raw": pa.string()}
        )
        return columns

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        records = [r for batch in data.iter_batches(list(RECORD_INPUTS)) for r in records_from_batch(batch)]
        work = work_area(data)
        client = open_client(self.settings.llm, work / CACHE_NAME if work else None)
        judge = self.make_judge(client)
        try:
            results = run_with_client(client, lambda c: judge.judge_all(records, progress))
        except FatalLLMError as exc:
            raise CurataError(f"stage 'judge': {exc}") from None
        return DatasetResult(columns=self.columns(results), summary=judge_summary(results, client))

    def make_judge(self, client: LLMClient) -> Judge:
        return Judge(
            client,
            self.settings.rubric,
            self.settings.repair,
            self.settings.max_tokens,
            method=self.settings.method,
        )

    def planned_requests(self, client: LLMClient, records: Sequence[Record]) -> list[ChatRequest]:
        """What judging `records` sends before any repair or retry: for `curata run --dry-run`."""
        return self.make_judge(client).first_requests(records)

    def columns(self, results: list[JudgeResult]) -> dict[str, pa.Array]:
        def floats(values: list[float | None]) -> pa.Array:
            return pa.array([math.nan if v is None else v for v in values], pa.float32())

        out = {"judge_score": floats([r.score for r in results])}
        for name in self.settings.rubric.names:
            out[criterion_column(name)] = floats([r.scores.get(name) for r in results])
        out["judge_rationale"] = pa.array([r.rationale or None for r in results], pa.string())
        out["judge_status"] = pa.array([r.status for r in results], pa.string())
        out["judge_raw"] = pa.array([r.raw for r in results], pa.string())
        return out
