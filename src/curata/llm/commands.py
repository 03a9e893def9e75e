"""The bodies of the LLM commands: load records, run the job with a progress bar, write results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from curata.errors import CurataError
from curata.llm.config import LLMSettings
from curata.llm.io import load_records, write_jsonl
from curata.llm.judge import Judge
from curata.llm.rubric import Rubric
from curata.llm.session import open_client, run_with_client
from curata.llm.stage import judge_summary
from curata.progress import make_reporter


def judge_file(
    inputs: list[str],
    out: Path,
    settings: LLMSettings,
    rubric: Rubric,
    fmt: str | None,
    dry_run: bool,
    quiet: bool,
) -> dict[str, Any]:
    loaded = load_records(inputs, fmt)
    if not loaded.records:
        raise CurataError("no records to judge", path=inputs[0] if inputs else None)
    records = [item.record for item in loaded.records]
    client = open_client(settings, None)
    judge = Judge(client, rubric)
    if dry_run:
        message = client.dry_run(judge.first_requests(records))
        client.cache.close()
        return {"estimate": message + " (unreadable replies add one repair request each)"}
    with make_reporter(quiet) as reporter:
        task = reporter.task("judge", len(records))
        results = run_with_client(client, lambda c: judge.judge_all(records, task.advance))
        task.finish()
    write_jsonl(out, ({"id": r.id, **v.to_json()} for r, v in zip(records, results, strict=True)))
    summary = judge_summary(results, client)
    summary["bad_lines"] = loaded.bad_lines
    return summary
