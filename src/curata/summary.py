"""summary.json: counts per check, totals, dataset statistics and timings of one run."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curata import __version__
from curata.checks.registry import CHECKS
from curata.engines.local import IngestInfo, StageRun
from curata.outputs import OutputCounts
from curata.pipeline import Plan

NUMERIC_STATS = ("n_turns", "prompt_tokens", "response_tokens", "prompt_chars", "response_chars", "quality")


def describe(values: np.ndarray) -> dict[str, float]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"count": 0}
    pct = np.percentile(values, [50, 90, 99])
    return {
        "count": len(values),
        "mean": round(float(values.mean()), 4),
        "min": round(float(values.min()), 4),
        "p50": round(float(pct[0]), 4),
        "p90": round(float(pct[1]), 4),
        "p99": round(float(pct[2]), 4),
        "max": round(float(values.max()), 4),
    }


def value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """Counts of each non-null value, most common first (ties in order of first appearance),
    counted by Arrow: no Python object per row."""
    counts = pc.value_counts(column.drop_null())
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    return dict(sorted(pairs, key=lambda pair: -pair[1]))


def dataset_stats(signals: pa.Table) -> dict[str, Any]:
    """Statistics of every record and of the kept ones, side by side."""
    kept = (
        signals.column("kept").to_numpy(zero_copy_only=False).astype(bool)
        if "kept" in signals.column_names
        else None
    )
    stats: dict[str, Any] = {}
    for name in NUMERIC_STATS:
        if name not in signals.column_names:
            continue
        values = signals.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        stats[name] = {"all": describe(values), "kept": describe(values[kept]) if kept is not None else {}}
    labels = signals.column("label")
    if labels.null_count < len(labels):
        kept_labels = labels.filter(pa.array(kept)) if kept is not None else labels
        stats["labels"] = {"all": value_counts(labels), "kept": value_counts(kept_labels)}
    stats["formats"] = value_counts(signals.column("format"))
    return stats


def build_summary(
    plan: Plan,
    info: IngestInfo,
    runs: list[StageRun],
    counts: OutputCounts,
    signals: pa.Table,
    policy: dict[str, dict[str, Any]],
    total_seconds: float,
    engine: str = "local",
) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for code in plan.codes:
        action = policy.get(code, {}).get("action", CHECKS[code].default_action)
        column = signals.column(code).to_numpy(zero_copy_only=False) if code in signals.column_names else None
        checks[code] = {
            "description": CHECKS[code].description,
            "action": action,
            "threshold": policy.get(code, {}).get("threshold", CHECKS[code].default_threshold),
            "flagged": counts.flagged.get(code, 0),
            "dropped": counts.reasons.get(code, 0),
            "mean_score": round(float(np.nanmean(column)), 6) if column is not None and len(column) else 0.0,
        }
    dataset_findings = [f for run in runs for f in run.findings]
    return {
        "curata_version": __version__,
        "recipe": {"name": plan.recipe.name, "source": plan.recipe.source},
        "engine": engine,
        "inputs": info.inputs,
        "totals": {
            "input": info.rows + info.bad_lines,
            "records": info.rows,
            "bad_lines": info.bad_lines,
            "kept": counts.kept,
            "rejected": counts.rejected,
        },
        "checks": checks,
        "rejected_by_reason": dict(counts.reasons.most_common()),
        "dataset_findings": dataset_findings,
        "stats": dataset_stats(signals),
        "stages": [
            {
                "name": "read",
                "kind": "ingest",
                "seconds": round(info.seconds, 3),
                "rows": info.rows,
                "cached": info.cached,
            },
            *(run.to_json() for run in runs),
        ],
        "stage_summaries": summaries_by_stage(runs),
        "total_seconds": round(total_seconds, 3),
    }


def summaries_by_stage(runs: Sequence[StageRun]) -> dict[str, Any]:
    """Each stage's summary under its name. A stage that runs twice (near_dedup on the prompt and
    on the response) keeps its name the first time; later runs are keyed `name:key` when their
    summary names a dedup key, else `name#n`, so no summary overwrites another."""
    out: dict[str, Any] = {}
    for run in runs:
        if not run.summary:
            continue
        key = run.summary.get("key")
        by_key = [f"{run.name}:{key}"] if isinstance(key, str) else []
        numbered = (f"{run.name}#{n}" for n in itertools.count(2))
        name = next(c for c in itertools.chain([run.name], by_key, numbered) if c not in out)
        out[name] = run.summary
    return out
