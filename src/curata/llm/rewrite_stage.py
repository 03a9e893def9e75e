"""The `rewrite` recipe stage: each record's last answer rewritten to a format spec and verified.

It writes `rewrite_response` (the verified new answer; null when the answer already passed or the
rewrite failed), `rewrite_status`, and the check code `rewrite_failed` (score 1 with the problems as
message) so `decide` can flag or drop records whose answer still breaks the format.
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
from curata.llm.rewrite import FormatSpec, Rewriter, RewriteResult
from curata.llm.session import CACHE_NAME, open_client, run_with_client, stats_summary, work_area
from curata.records import Record, records_from_batch
from curata.stages.base import DatasetResult, DatasetStage, DatasetView, ProgressCallback, StageSettings
from curata.stages.registry import register_stage

CODE = "rewrite_failed"
declare_check(
    CODE, description="the answer breaks the target format even after an LLM rewrite", action="flag"
)
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

    def reads(self) -> frozenset[str]:
        return frozenset(RECORD_INPUTS)

    def writes(self) -> dict[str, pa.DataType]:
        return {
            "rewrite_response": pa.string(),
            "rewrite_status": pa.string(),
            **check_column_types(CODE),
        }

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

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
        failed = [r.status in ("failed", "not_done") for r in results]
        statuses = Counter(r.status for r in results)
        return DatasetResult(
            columns={
                "rewrite_response": pa.array(
                    [r.text if r.status == "rewritten" else None for r in results], pa.string()
                ),
                "rewrite_status": pa.array([r.status for r in results], pa.string()),
                score_column(CODE): pa.array([1.0 if f else 0.0 for f in failed], pa.float32()),
                message_column(CODE): pa.array(
                    [
                        f"answer {'; '.join(r.problems)}" if f else None
                        for r, f in zip(results, failed, strict=True)
                    ],
                    pa.string(),
                ),
            },
            summary={**{str(k): v for k, v in statuses.items()}, "llm": stats_summary(client)},
        )
