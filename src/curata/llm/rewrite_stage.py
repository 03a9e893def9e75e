"""The `rewrite` recipe stage: each record's last answer rewritten to a format spec and verified.

A verified rewrite replaces the answer in the curated output (curated.jsonl, rejected.jsonl,
`curata export`), the way a reviewer's edit does; nothing upstream changes, so every other stage
saw the original. Provenance stays beside the record: `rewrite_original` (the answer as it came
in), `rewrite_model`, and the check code `rewritten` (flagged, message naming the model). An answer
that still breaks the spec keeps its original text and gets `rewrite_failed` (score 1, the
problems as message) so `decide` flags or drops it: never kept as if it were compliant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pyarrow as pa
from pydantic import Field

from curata.checks.columns import check_column_types, message_column, score_column
from curata.checks.registry import declare_check
from curata.errors import CurataError
from curata.llm.client import LLMClient
from curata.llm.config import LLMSettings
from curata.llm.request import ChatRequest
from curata.llm.retry import FatalLLMError
from curata.llm.rewrite import PROMPT_ID, FormatSpec, Rewriter, RewriteResult
from curata.llm.session import CACHE_NAME, open_client, run_with_client, stats_summary, work_area
from curata.records import Record, records_from_batch
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.registry import register_stage

CODE = "rewrite_failed"
REWRITTEN = "rewritten"
declare_check(
    CODE, description="the answer breaks the target format even after an LLM rewrite", action="flag"
)
declare_check(REWRITTEN, description="the answer was rewritten by an LLM to the target format", action="flag")
RECORD_INPUTS = ("id", "turns", "label", "source", "format")


class RewriteSettings(StageSettings):
    spec: FormatSpec
    llm: LLMSettings = Field(default_factory=LLMSettings)
    tries: int = Field(default=2, ge=1, le=5)
    max_tokens: int = Field(default=1024, ge=16)


@register_stage
class RewriteStage(DatasetStage):
    name = "rewrite"
    description = "rewrite answers to a format spec with an LLM, verify, flag failures (rewrite_failed)"
    Settings = RewriteSettings
    settings: RewriteSettings
    version = "2"  # the verified answer now replaces the original in the output

    def reads(self) -> frozenset[str]:
        return frozenset(RECORD_INPUTS)

    def writes(self) -> dict[str, pa.DataType]:
        return {
            "rewrite_response": pa.string(),
            "rewrite_status": pa.string(),
            "rewrite_original": pa.string(),
            "rewrite_model": pa.string(),
            **check_column_types(CODE),
            **check_column_types(REWRITTEN),
        }

    def check_codes(self) -> tuple[str, ...]:
        return (CODE, REWRITTEN)

    def make_rewriter(self, client: LLMClient) -> Rewriter:
        return Rewriter(client, self.settings.spec, self.settings.tries, self.settings.max_tokens)

    def planned_requests(self, client: LLMClient, records: Sequence[Record]) -> list[ChatRequest]:
        """The first try for every answer that breaks the spec: for `curata run --dry-run`."""
        return self.make_rewriter(client).first_requests(records)

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        records = [r for batch in data.iter_batches(list(RECORD_INPUTS)) for r in records_from_batch(batch)]
        work = work_area(data)
        client = open_client(self.settings.llm, work / CACHE_NAME if work else None)
        rewriter = self.make_rewriter(client)

        async def one(record: Record) -> RewriteResult:
            result = await rewriter.rewrite(record)
            progress(1)
            return result

        try:
            results = run_with_client(client, lambda c: c.map(one(r) for r in records))
        except FatalLLMError as exc:
            raise CurataError(f"stage 'rewrite': {exc}") from None
        return DatasetResult(
            columns=self.columns(records, results, client.model),
            summary={
                **{str(k): v for k, v in Counter(r.status for r in results).items()},
                "llm": stats_summary(client),
            },
        )

    def columns(self, records: list[Record], results: list[RewriteResult], model: str) -> dict[str, pa.Array]:
        done = [r.status == "rewritten" for r in results]
        failed = [r.status in ("failed", "not_done") for r in results]

        def strings(values: list[str | None]) -> pa.Array:
            return pa.array(values, pa.string())

        def flags(values: list[bool]) -> pa.Array:
            return pa.array([1.0 if v else 0.0 for v in values], pa.float32())

        return {
            "rewrite_response": strings([r.text if d else None for r, d in zip(results, done, strict=True)]),
            "rewrite_status": strings([r.status for r in results]),
            "rewrite_original": strings(
                [rec.last_response if d else None for rec, d in zip(records, done, strict=True)]
            ),
            "rewrite_model": strings([model if d else None for d in done]),
            score_column(CODE): flags(failed),
            message_column(CODE): strings(
                [failure_message(r) if f else None for r, f in zip(results, failed, strict=True)]
            ),
            score_column(REWRITTEN): flags(done),
            message_column(REWRITTEN): strings(
                [
                    f"answer rewritten by {model} ({PROMPT_ID}); the original is in rewrite_original"
                    if d
                    else None
                    for d in done
                ]
            ),
        }


def failure_message(result: RewriteResult) -> str:
    if result.status == "not_done":
        return f"answer not rewritten: {'; '.join(result.problems)}"
    return f"answer {'; '.join(result.problems)} (after {result.attempts} rewrite attempt(s))"
