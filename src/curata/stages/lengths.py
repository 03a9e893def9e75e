"""`too_short` / `too_long`: answers far outside the lengths a fine-tune should see, from the
token counts the `stats` stage writes (so a `stats.tokenizer` makes them exact).

Absolute limits catch what is broken anywhere (an answer over the context budget); relative ones
catch what is odd for this dataset (a one-line answer where answers are usually pages long), and
stay quiet on datasets of short answers (labels, yes/no).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.checks.columns import check_column_types, message_column, score_column
from curata.checks.registry import declare_check
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.registry import register_stage

declare_check("too_short", description="the answer is far shorter than the dataset's answers", action="flag")
declare_check("too_long", description="prompt + answer exceed the token budget", action="flag")


class LengthSettings(StageSettings):
    # Prompt + answer tokens above this are too long for the fine-tune's context.
    max_total_tokens: int = Field(8192, ge=1)
    # Answers shorter than this are too short, whatever the dataset.
    min_response_tokens: int = Field(1, ge=0)
    # ... and answers shorter than median / this factor, when the median answer is long enough.
    relative_factor: float = Field(20.0, gt=1.0)
    relative_min_median: int = Field(50, ge=1)


@register_stage
class Lengths(DatasetStage):
    name = "lengths"
    description = "too_short / too_long answers from the stats stage's token counts"
    Settings = LengthSettings
    settings: LengthSettings

    def reads(self) -> frozenset[str]:
        return frozenset({"prompt_tokens", "response_tokens", "format"})

    def writes(self) -> dict[str, pa.DataType]:
        return {**check_column_types("too_short"), **check_column_types("too_long")}

    def check_codes(self) -> tuple[str, ...]:
        return ("too_short", "too_long")

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        s = self.settings
        prompt = data.numpy("prompt_tokens").astype(np.float64)
        response = data.numpy("response_tokens").astype(np.float64)
        has_answer = np.asarray(data.column("format").to_pylist(), dtype=object) != "text_label"
        total = prompt + response
        long_score = np.where(
            total > s.max_total_tokens, np.minimum(1.0, 0.5 + total / s.max_total_tokens / 4), 0
        )
        median = float(np.median(response[has_answer])) if has_answer.any() else 0.0
        floor = float(s.min_response_tokens)
        if median >= s.relative_min_median:
            floor = max(floor, median / s.relative_factor)
        short = has_answer & (response < floor)
        short_score = np.where(short, 0.5 + 0.5 * (1 - response / max(floor, 1)), 0.0)
        long_msg = [
            f"{int(t)} tokens (prompt + answer), over the budget of {s.max_total_tokens}" if v > 0 else None
            for t, v in zip(total, long_score, strict=True)
        ]
        short_msg = [
            f"{int(r)} answer tokens; the dataset's median answer has {median:.0f}" if v else None
            for r, v in zip(response, short, strict=True)
        ]
        progress(data.n_rows)
        return DatasetResult(
            columns={
                score_column("too_short"): pa.array(short_score.astype(np.float32)),
                message_column("too_short"): pa.array(short_msg, pa.string()),
                score_column("too_long"): pa.array(long_score.astype(np.float32)),
                message_column("too_long"): pa.array(long_msg, pa.string()),
            },
            summary={
                "median_response_tokens": median,
                "short_below_tokens": floor,
                "too_short": int(short.sum()),
                "too_long": int((long_score > 0).sum()),
            },
        )
