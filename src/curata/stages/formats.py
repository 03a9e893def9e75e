"""`format_inconsistency`: an answer that breaks the output format its task usually has.

The stage learns the dominant answer format (JSON, code, list, label word, short, prose; see
`checks.formats`) of the whole dataset and of each prompt template (prompts sharing their first
words), and flags answers of another format where one format clearly dominates. Within the
dominant format it also flags answers far outside the template's usual length band. A prompt that
asks for JSON expects JSON whatever the dataset does. Mixed instruction sets have no dominant
format, so nothing is flagged there.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.checks.columns import check_column_types, message_column, score_column
from curata.checks.formats import ASKS_JSON, output_format, template_key
from curata.checks.registry import declare_check
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.registry import register_stage

CODE = "format_inconsistency"
declare_check(CODE, description="the answer breaks the dataset's dominant output format", action="flag")


class FormatSettings(StageSettings):
    # A format dominates a group when at least this share of its answers have it.
    dominance: float = Field(0.8, gt=0.5, le=1.0)
    # Groups (the dataset, or one prompt template) smaller than this learn nothing.
    min_group: int = Field(20, ge=2)
    # Answers this many times longer or shorter than the group's median are length outliers.
    length_factor: float = Field(10.0, gt=1.0)


def last_turns(turns: list[dict[str, str]]) -> tuple[str, str | None]:
    prompt, answer = "", None
    for turn in turns:
        if turn["role"] == "user":
            prompt = turn["content"]
        elif turn["role"] == "assistant":
            answer = turn["content"]
    return prompt, answer


def dominant(counts: Counter[str], total: int, settings: FormatSettings) -> tuple[str, float] | None:
    if total < settings.min_group or not counts:
        return None
    fmt, count = counts.most_common(1)[0]
    share = count / total
    return (fmt, share) if share >= settings.dominance else None


@register_stage
class Formats(DatasetStage):
    name = "formats"
    description = "learns the dominant answer format per dataset and prompt template; flags outliers"
    Settings = FormatSettings
    settings: FormatSettings

    def reads(self) -> frozenset[str]:
        return frozenset({"turns"})

    def writes(self) -> dict[str, pa.DataType]:
        return {"output_format": pa.string(), **check_column_types(CODE)}

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        formats: list[str | None] = []
        templates: list[str] = []
        lengths: list[int] = []
        asks_json: list[bool] = []
        for batch in data.iter_batches(["turns"]):
            for turns in batch.column("turns").to_pylist():
                prompt, answer = last_turns(turns)
                formats.append(None if answer is None else output_format(answer))
                templates.append(template_key(prompt))
                lengths.append(len(answer.split()) if answer else 0)
                asks_json.append(bool(ASKS_JSON.search(prompt)))
            progress(batch.num_rows)
        answered = [i for i, f in enumerate(formats) if f not in (None, "empty")]
        overall = dominant(Counter(str(formats[i]) for i in answered), len(answered), self.settings)
        by_template: dict[str, list[int]] = defaultdict(list)
        for i in answered:
            by_template[templates[i]].append(i)
        n = data.n_rows
        scores = np.zeros(n, dtype=np.float32)
        messages: list[str | None] = [None] * n
        for members in by_template.values():
            local = dominant(Counter(str(formats[i]) for i in members), len(members), self.settings)
            expected = local or overall
            if expected is None:
                continue
            where = "its prompt template" if local else "the dataset"
            same = [lengths[i] for i in members if formats[i] == expected[0]]
            median = float(np.median(same)) if len(same) >= self.settings.min_group else None
            for i in members:
                fmt = formats[i]
                if fmt != expected[0] and not (fmt == "short" and expected[0] == "label"):
                    scores[i] = (
                        0.5
                        + (expected[1] - self.settings.dominance) / (1 - self.settings.dominance + 1e-9) / 2
                    )
                    messages[i] = (
                        f"answer is {fmt}; {expected[1]:.0%} of answers to {where} are {expected[0]}"
                    )
                elif (
                    median
                    and median >= 5
                    and (
                        lengths[i] > median * self.settings.length_factor
                        or lengths[i] < median / self.settings.length_factor
                    )
                ):
                    scores[i] = 0.6
                    messages[i] = (
                        f"answer has {lengths[i]} words; answers to {where} have a median of {median:.0f}"
                    )
        for i in answered:
            if asks_json[i] and formats[i] not in ("json", "code") and scores[i] < 0.7:
                scores[i] = 0.7
                messages[i] = f"the prompt asks for JSON; the answer is {formats[i]}"
        return DatasetResult(
            columns={
                "output_format": pa.array(formats, pa.string()),
                score_column(CODE): pa.array(np.minimum(scores, 1.0)),
                message_column(CODE): pa.array(messages, pa.string()),
            },
            summary={
                "formats": dict(Counter(f for f in formats if f is not None).most_common()),
                "dominant": {"format": overall[0], "share": round(overall[1], 4)} if overall else None,
                "flagged": int((scores >= 0.5).sum()),
            },
        )
