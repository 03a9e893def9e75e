"""The dataset statistics fine-tuning advice needs, from a run's summary.json or from records."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curata.errors import InputError


@dataclass
class DataStats:
    records: int
    records_in: int
    prompt_tokens_mean: float
    response_tokens_mean: float
    prompt_tokens_p99: float
    response_tokens_p99: float
    turns_mean: float
    labels: dict[str, int] = field(default_factory=dict)
    quality_mean: float | None = None
    # From the topics stage when the run has one (cluster count, entropy, vendi score...).
    diversity: dict[str, Any] | None = None
    topic_clusters: int | None = None
    formats: dict[str, int] = field(default_factory=dict)

    @property
    def tokens_mean(self) -> float:
        return self.prompt_tokens_mean + self.response_tokens_mean

    @property
    def total_tokens(self) -> float:
        return self.records * self.tokens_mean

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def kept_stat(stats: dict[str, Any], name: str, key: str, default: float = 0.0) -> float:
    value = stats.get(name, {}).get("kept", {}).get(key)
    return float(value) if value is not None else default


def stats_from_summary(summary: dict[str, Any]) -> DataStats:
    stats = summary.get("stats", {})
    topics = summary.get("stage_summaries", {}).get("topics") or {}
    labels = stats.get("labels", {}).get("kept", {})
    quality = stats.get("quality", {}).get("kept", {}).get("mean")
    return DataStats(
        records=int(summary["totals"]["kept"]),
        records_in=int(summary["totals"]["records"]),
        prompt_tokens_mean=kept_stat(stats, "prompt_tokens", "mean"),
        response_tokens_mean=kept_stat(stats, "response_tokens", "mean"),
        prompt_tokens_p99=kept_stat(stats, "prompt_tokens", "p99"),
        response_tokens_p99=kept_stat(stats, "response_tokens", "p99"),
        turns_mean=kept_stat(stats, "n_turns", "mean", 2.0),
        labels={str(k): int(v) for k, v in labels.items()},
        quality_mean=float(quality) if quality is not None else None,
        diversity=topics.get("diversity"),
        topic_clusters=topics.get("k"),
        formats=dict(stats.get("formats", {})),
    )


def read_run_summary(out: Path) -> dict[str, Any]:
    path = out / "summary.json"
    if not path.exists():
        raise InputError("not a finished curata run: summary.json is missing", path=str(out))
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as exc:
        raise InputError(f"summary.json is not valid JSON: {exc}", path=str(path)) from None


def stats_from_run(out: Path) -> DataStats:
    return stats_from_summary(read_run_summary(out))


def stats_from_token_counts(prompt: list[int], response: list[int], turns: list[int]) -> DataStats:
    """Statistics of records read for training (no run directory): counts from the model's tokenizer."""
    p, r = np.asarray(prompt, dtype=float), np.asarray(response, dtype=float)
    return DataStats(
        records=len(p),
        records_in=len(p),
        prompt_tokens_mean=float(p.mean()) if len(p) else 0.0,
        response_tokens_mean=float(r.mean()) if len(r) else 0.0,
        prompt_tokens_p99=float(np.percentile(p, 99)) if len(p) else 0.0,
        response_tokens_p99=float(np.percentile(r, 99)) if len(r) else 0.0,
        turns_mean=float(np.mean(turns)) if turns else 2.0,
    )
