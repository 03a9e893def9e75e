"""The bodies of the LLM commands: load records, run the job with a progress bar, write results."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from curata.errors import CurataError
from curata.llm.budget import BudgetExhaustedError
from curata.llm.calibrate import Calibration, calibrate, label_value
from curata.llm.config import LLMSettings
from curata.llm.generate import (
    Candidate,
    GenerationResult,
    Generator,
    Target,
    gap_targets,
    parse_target,
    self_instruct_messages,
)
from curata.llm.io import Loaded, load_records, read_jsonl_objects, write_jsonl
from curata.llm.judge import Judge, JudgeMethod, PairResult, compare
from curata.llm.request import ChatRequest
from curata.llm.retry import RequestFailedError
from curata.llm.rewrite import PROMPT_ID, FormatSpec, Rewriter, RewriteResult, with_answer
from curata.llm.rubric import Rubric
from curata.llm.session import open_client, run_with_client, stats_summary
from curata.llm.stage import judge_summary
from curata.progress import make_reporter
from curata.records import Record, Turn


def judge_file(
    inputs: list[str],
    out: Path,
    settings: LLMSettings,
    rubric: Rubric,
    fmt: str | None,
    dry_run: bool,
    quiet: bool,
    method: JudgeMethod = "auto",
) -> dict[str, Any]:
    loaded = load_records(inputs, fmt)
    if not loaded.records:
        raise CurataError("no records to judge", path=inputs[0] if inputs else None)
    records = [item.record for item in loaded.records]
    client = open_client(settings, None)
    judge = Judge(client, rubric, max_tokens=min(256, settings.max_tokens), method=method)
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


def human_labels(loaded: list[Loaded], labels_file: str | None, field: str) -> list[float | None]:
    """Each record's human label: from `labels_file` (`{id, label}` or review `{id, decision}`
    lines, joined by id) or from the record's own `field`."""
    if labels_file is None:
        return [label_value(item.obj.get(field)) for item in loaded]
    by_id: dict[str, Any] = {}
    for row in read_jsonl_objects(Path(labels_file)):
        if "id" in row:
            by_id[str(row["id"])] = row.get(field, row.get("decision", row.get("label")))
    if not by_id:
        raise CurataError("no `{id, label}` or `{id, decision}` lines", path=labels_file)
    return [label_value(by_id.get(item.record.id)) for item in loaded]


def calibrate_file(
    inputs: list[str],
    settings: LLMSettings,
    rubric: Rubric,
    labels_file: str | None,
    label_field: str,
    threshold: float,
    limit: int | None,
    fmt: str | None,
    quiet: bool,
    method: JudgeMethod = "auto",
) -> tuple[Calibration, dict[str, Any]]:
    loaded = load_records(inputs, fmt).records
    labels = human_labels(loaded, labels_file, label_field)
    pairs = [(item, lab) for item, lab in zip(loaded, labels, strict=True) if lab is not None]
    if limit is not None:
        pairs = pairs[:limit]
    if not pairs:
        raise CurataError(f"no record has a usable '{label_field}' label", path=inputs[0])
    records = [item.record for item, _ in pairs]
    client = open_client(settings, None)
    judge = Judge(client, rubric, max_tokens=min(256, settings.max_tokens), method=method)
    with make_reporter(quiet) as reporter:
        task = reporter.task("judge", len(records))
        results = run_with_client(client, lambda c: judge.judge_all(records, task.advance))
        task.finish()
    result = calibrate([lab for _, lab in pairs], [r.score for r in results], threshold)
    return result, judge_summary(results, client)


def render_record(item: Loaded, turns: tuple[Turn, ...], extra: dict[str, Any]) -> dict[str, Any]:
    """The record in its own format with new turns; its other fields travel untouched."""
    obj = {k: v for k, v in item.obj.items() if k not in item.format.consumed}
    obj.update(item.format.render(turns, item.record.label))
    if "id" in item.obj:
        obj["id"] = item.obj["id"]
    obj.update(extra)
    return obj


def rewrite_file(
    inputs: list[str],
    out: Path,
    failed_out: Path,
    settings: LLMSettings,
    spec: FormatSpec,
    fmt: str | None,
    dry_run: bool,
    quiet: bool,
) -> dict[str, Any]:
    loaded = load_records(inputs, fmt).records
    if not loaded:
        raise CurataError("no records to rewrite", path=inputs[0] if inputs else None)
    client = open_client(settings, None)
    rewriter = Rewriter(client, spec)
    if dry_run:
        requests = rewriter.first_requests([i.record for i in loaded])
        message = client.dry_run(requests)
        client.cache.close()
        return {"estimate": f"{len(requests):,} of {len(loaded):,} answers break the spec; {message}"}
    with make_reporter(quiet) as reporter:
        task = reporter.task("rewrite", len(loaded))

        async def one(record: Record) -> RewriteResult:
            result = await rewriter.rewrite(record)
            task.advance(1)
            return result

        results = run_with_client(client, lambda c: c.map(one(i.record) for i in loaded))
        task.finish()
    kept: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for item, result in zip(loaded, results, strict=True):
        if result.status == "rewritten" and result.text is not None:
            provenance = {
                "model": client.model,
                "prompt_id": PROMPT_ID,
                "original": item.record.last_response,
            }
            kept.append(
                render_record(item, with_answer(item.record, result.text), {"curata_rewrite": provenance})
            )
        elif result.status == "unchanged":
            kept.append(item.obj)
        else:
            failures.append(
                {
                    "id": item.record.id,
                    "check": "rewrite_failed",
                    "severity": "warning",
                    "message": f"answer {'; '.join(result.problems)}",
                    "related": [],
                    "attempt": result.text,
                    "record": item.obj,
                }
            )
    write_jsonl(out, kept)
    write_jsonl(failed_out, failures)
    statuses = Counter(r.status for r in results)
    counts = {s: statuses.get(s, 0) for s in ("unchanged", "rewritten", "failed", "not_done")}
    return {"records": len(loaded), **counts, "llm": stats_summary(client)}


def targets_from_run(run_dir: Path, per_target: int) -> list[Target]:
    """Gap targets from a finished run's findings.jsonl (coverage_gap, class_imbalance)."""
    findings_file = run_dir / "findings.jsonl"
    if not findings_file.is_file():
        raise CurataError("no findings.jsonl: is this a finished `curata run` output?", path=str(run_dir))
    findings = [f for f in read_jsonl_objects(findings_file) if f.get("id") is None]
    return gap_targets(findings, per_target)


def synthetic_row(candidate: Candidate, model: str, classification: bool) -> dict[str, Any]:
    digest = xxhash.xxh3_64_hexdigest(candidate.instruction.encode())[:12]
    verdict = candidate.verdict
    provenance = {
        "method": candidate.method,
        "model": model,
        "prompt_id": candidate.prompt_id,
        "seed_ids": list(candidate.seed_ids),
        "judge_score": verdict.score if verdict else None,
    }
    if classification:
        body: dict[str, Any] = {"text": candidate.instruction, "label": candidate.label}
    else:
        body = {"instruction": candidate.instruction, "input": "", "output": candidate.answer}
        if candidate.label is not None:
            body["label"] = candidate.label
    return {"id": f"syn-{digest}", **body, "source": "synthetic", "provenance": provenance}


def cluster_members(run_dir: Path | None) -> dict[str, set[str]]:
    """Record ids per topic cluster, from a run's signals.parquet."""
    path = run_dir / "signals.parquet" if run_dir else None
    if path is None or not path.is_file():
        return {}
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    if "topic_cluster" not in names:
        return {}
    table = pq.read_table(path, columns=["id", "topic_cluster"])
    members: dict[str, set[str]] = {}
    for rid, cluster in zip(
        table.column("id").to_pylist(), table.column("topic_cluster").to_pylist(), strict=True
    ):
        members.setdefault(str(cluster), set()).add(rid)
    return members


def seed_pool(seeds: list[Record], target: Target | None, clusters: dict[str, set[str]]) -> list[Record]:
    """The seeds to show as examples for a target: its label's or its cluster's, else all."""
    if target is None:
        return seeds
    if target.kind == "label":
        pool = [s for s in seeds if s.label == target.name]
    elif target.kind == "topic_cluster":
        pool = [s for s in seeds if s.id in clusters.get(target.name, set())]
    else:
        pool = []
    return pool or seeds


@dataclass
class GenerateJob:
    method: str
    n: int
    targets: list[str]
    run_dir: Path | None
    existing: list[str]
    min_score: float
    seed: int
    batch: int
    accept_unscored: bool = False
    judge_method: JudgeMethod = "auto"
    # Proposal requests per target at most (None: 4 x n / batch, at least 4).
    max_rounds: int | None = None


def generation_plan(job: GenerateJob) -> list[tuple[Target | None, int]]:
    if job.method != "gaps":
        return [(None, job.n)]
    try:
        targets = [parse_target(t, job.n) for t in job.targets]
    except ValueError as exc:
        raise CurataError(str(exc)) from None
    if not targets and job.run_dir is not None:
        targets = targets_from_run(job.run_dir, job.n)
    if not targets:
        raise CurataError("no gaps to fill: no coverage_gap or class_imbalance finding; use --target")
    return [(t, t.count) for t in targets]


def generate_file(
    seed_inputs: list[str],
    out: Path,
    settings: LLMSettings,
    rubric: Rubric,
    job: GenerateJob,
    fmt: str | None,
    dry_run: bool,
    quiet: bool,
) -> dict[str, Any]:
    seeds = [item.record for item in load_records(seed_inputs, fmt).records]
    if not seeds:
        raise CurataError("no seed records", path=seed_inputs[0] if seed_inputs else None)
    existing = seeds + ([i.record for i in load_records(job.existing, None).records] if job.existing else [])
    classification = all(r.format == "text_label" for r in seeds)
    plan = generation_plan(job)
    wanted = sum(count for _, count in plan)
    client = open_client(settings, None)
    judge = Judge(
        client, rubric, max_tokens=min(256, settings.max_tokens), temperature=0.0, method=job.judge_method
    )
    if dry_run:
        per_round = 1 if job.method == "evol" else job.batch
        proposal = ChatRequest.of(self_instruct_messages(seeds[:3], job.batch, 0, None))
        sample = [seeds[i % len(seeds)] for i in range(wanted)]
        answers = [ChatRequest.of([{"role": "user", "content": s.last_prompt}]) for s in sample]
        message = client.dry_run(
            [proposal] * -(-wanted // per_round) + answers + judge.first_requests(sample)
        )
        client.cache.close()
        return {"estimate": message + " (at least: rejected candidates cost more)"}
    generator = Generator(
        client, judge, existing, job.min_score, job.seed, job.batch, classification, job.accept_unscored
    )

    clusters = cluster_members(job.run_dir) if any(t and t.kind == "topic_cluster" for t, _ in plan) else {}

    async def work(c: Any) -> list[GenerationResult]:
        done = []
        for target, count in plan:
            pool = seed_pool(seeds, target, clusters)
            done.append(await generator.run(job.method, pool, count, target, job.max_rounds))
        return done

    with make_reporter(quiet) as reporter:
        task = reporter.task("generate", wanted)
        results = run_with_client(client, work)
        task.advance(sum(len(r.accepted) for r in results))
        task.finish()
    rows = [synthetic_row(c, client.model, classification) for r in results for c in r.accepted]
    write_jsonl(out, rows)
    rejected: Counter[str] = Counter()
    for r in results:
        rejected.update(r.rejected)
    return {
        "accepted": len(rows),
        "wanted": wanted,
        "proposed": sum(r.proposed for r in results),
        "rejected": dict(rejected),
        "targets": [f"{t.kind}={t.name}:{t.count}" for t, _ in plan if t is not None],
        "stopped_by_budget": any(r.stopped_by_budget for r in results),
        "llm": stats_summary(client),
    }


def pair_of(obj: dict[str, Any]) -> tuple[str, str, str] | None:
    """(prompt, a, b) from `{prompt, a, b}` or preference data (`chosen` / `rejected` answers)."""
    if all(isinstance(obj.get(k), str) for k in ("prompt", "a", "b")):
        return obj["prompt"], obj["a"], obj["b"]

    def text(value: Any) -> str | None:
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            found = value.get("value", value.get("content"))
            return found if isinstance(found, str) else None
        if isinstance(value, list) and value:
            return text(value[-1])
        return None

    turns = obj.get("conversations") or obj.get("messages") or []
    prompt = "\n\n".join(t for t in (text(turn) for turn in turns) if t) or text(obj.get("prompt")) or ""
    chosen, rejected = text(obj.get("chosen")), text(obj.get("rejected"))
    if prompt and chosen is not None and rejected is not None:
        return prompt, chosen, rejected
    return None


def compare_file(path: Path, out: Path, settings: LLMSettings, quiet: bool) -> dict[str, Any]:
    rows = read_jsonl_objects(path)
    pairs = [(str(row.get("id", i)), pair_of(row)) for i, row in enumerate(rows)]
    bad = [rid for rid, pair in pairs if pair is None]
    if bad:
        raise CurataError(f"record {bad[0]} has neither prompt/a/b nor chosen/rejected", path=str(path))
    client = open_client(settings, None)
    with make_reporter(quiet) as reporter:
        task = reporter.task("compare", len(pairs))

        async def one(pair: tuple[str, str, str]) -> PairResult:
            try:
                result = await compare(client, *pair)
            except (BudgetExhaustedError, RequestFailedError):
                result = PairResult("tie", False, None, None)
            task.advance(1)
            return result

        results = run_with_client(client, lambda c: c.map(one(p) for _, p in pairs if p is not None))
        task.finish()
    write_jsonl(
        out,
        (
            {
                "id": rid,
                "winner": r.winner,
                "consistent": r.consistent,
                "orders": [r.first_order, r.second_order],
            }
            for (rid, _), r in zip(pairs, results, strict=True)
        ),
    )
    winners = Counter(r.winner for r in results)
    return {
        "pairs": len(results),
        "a": winners.get("a", 0),
        "b": winners.get("b", 0),
        "tie": winners.get("tie", 0),
        "inconsistent": sum(not r.consistent for r in results),
        "llm": stats_summary(client),
    }
