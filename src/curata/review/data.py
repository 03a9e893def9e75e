"""What the review app reads from a finished run: the queue of flagged and rejected records in
priority order, their findings and signals, and any record's conversation by id.

Everything comes from the run contract in OUT/ (signals.parquet, findings.jsonl, curated.jsonl,
rejected.jsonl); records are found by byte offset, so only the records shown are parsed.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import xxhash

from curata.errors import InputError
from curata.formats import get_format
from curata.workdir import RunDir, read_json

SKIP_SIGNALS = re.compile(r"^(norm_hash_.*|_row|.*__msg|.*__turn)$")
DUPLICATE_SUFFIX = "_duplicate"
JUDGE_COLUMN = "judge_score"
LABEL_MARGIN_COLUMN = "label_error_margin"


@dataclass
class QueueItem:
    """One record to review and why it is in the queue."""

    id: str
    source: str
    label: str | None
    kept: bool
    reasons: list[str]
    flags: list[str]
    decided_by: str
    severity: int
    uncertainty: float
    top_score: float
    group: str
    clusters: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def checks(self) -> list[str]:
        return list(dict.fromkeys([*self.reasons, *self.flags]))

    def sort_key(self) -> tuple[int, float, float, str]:
        return (-self.severity, -self.uncertainty, -self.top_score, self.id)


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True)
class LoadedRecord:
    id: str
    turns: list[Turn]
    label: str | None
    record: dict[str, Any]
    status: str  # "curated" or "rejected"

    @property
    def response(self) -> str:
        answers = [t.content for t in self.turns if t.role == "assistant"]
        return answers[-1] if answers else ""

    @property
    def has_response(self) -> bool:
        return any(t.role == "assistant" for t in self.turns)

    def conversation_text(self) -> str:
        return "\n\n".join(f"[{t.role}]\n{t.content}" for t in self.turns)


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def finite(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class RunData:
    """The contract files of one run directory, read once when the app starts."""

    def __init__(self, out: Path) -> None:
        self.out = out
        for name in ("signals.parquet", "findings.jsonl", "curated.jsonl", "rejected.jsonl"):
            if not (out / name).exists():
                raise InputError(f"not a finished curata run: {name} is missing", path=str(out))
        manifest = RunDir(out).manifest
        command = read_json(manifest).get("command", {}) if manifest.exists() else {}
        self.export_format: str | None = command.get("export_format")
        self.inputs: list[str] = list(command.get("inputs") or [])
        table = pq.read_table(out / "signals.parquet")
        keep = [c for c in table.column_names if not SKIP_SIGNALS.match(c)]
        self.signal_names = keep
        self.signals: dict[str, dict[str, Any]] = {}
        for row in table.select(keep).to_pylist():
            self.signals[str(row["id"])] = row
        self.formats = (
            dict(
                zip(map(str, table.column("id").to_pylist()), table.column("format").to_pylist(), strict=True)
            )
            if "format" in table.column_names
            else {}
        )
        self.findings: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.dataset_findings: list[dict[str, Any]] = []
        with open(out / "findings.jsonl", encoding="utf-8") as handle:
            for line in handle:
                finding = json.loads(line)
                if finding.get("id") is None:
                    self.dataset_findings.append(finding)
                else:
                    self.findings[str(finding["id"])].append(finding)
        self.offsets: dict[str, tuple[str, int]] = {}
        for name in ("curated.jsonl", "rejected.jsonl"):
            self.index(name)
        self.groups = self.duplicate_groups(table.column_names)
        labels = {row.get("label") for row in self.signals.values()} - {None}
        self.labels: list[str] = sorted(str(x) for x in labels)
        self.sources: list[str] = sorted({str(row.get("source") or "") for row in self.signals.values()})
        judge = [finite(row.get(JUDGE_COLUMN)) for row in self.signals.values()]
        self.judge_max = max([s for s in judge if s is not None], default=1.0)
        self.queue = self.build_queue()

    def index(self, name: str) -> None:
        with open(self.out / name, "rb") as handle:
            offset = 0
            for line in handle:
                if line.strip():
                    rid = json.loads(line)["id"]
                    self.offsets[rid if isinstance(rid, str) else json.dumps(rid)] = (name, offset)
                offset += len(line)

    def duplicate_groups(self, columns: Sequence[str]) -> dict[str, str]:
        """Records joined by any duplicate check's `related` ids: one group name per record."""
        uf = UnionFind()
        related_columns = [c for c in columns if c.endswith(f"{DUPLICATE_SUFFIX}__related")]
        if related_columns:
            table = pq.read_table(self.out / "signals.parquet", columns=["id", *related_columns])
            ids = table.column("id").to_pylist()
            for name in related_columns:
                for rid, related in zip(ids, table.column(name).to_pylist(), strict=True):
                    for other in related or []:
                        uf.union(str(rid), str(other))
        return {rid: uf.find(rid) for rid in uf.parent}

    def load(self, rid: str) -> LoadedRecord | None:
        where = self.offsets.get(rid)
        if where is None:
            return None
        name, offset = where
        with open(self.out / name, "rb") as handle:
            handle.seek(offset)
            return self.parse(rid, json.loads(handle.readline()), name)

    def parse(self, rid: str, obj: dict[str, Any], name: str) -> LoadedRecord:
        """A line of curated.jsonl or rejected.jsonl as turns, in the format it was written in."""
        record = obj["record"] if name == "rejected.jsonl" else obj
        status = "rejected" if name == "rejected.jsonl" else "curated"
        fmt = self.export_format or self.formats.get(rid)
        turns: list[Turn] = []
        label = None
        try:
            if fmt:
                parsed, label = get_format(fmt).parse(record)
                turns = [Turn(str(t.role), t.content) for t in parsed]
        except (ValueError, TypeError):
            turns = []
        if not turns:
            turns = [Turn("record", json.dumps(record, ensure_ascii=False, indent=2))]
        return LoadedRecord(rid, turns, label, record, status)

    def uncertainty(self, row: dict[str, Any]) -> float:
        """How unsure the automatic decision is: judge disagreeing with the rules, or a label-error
        margin near zero; 0 when neither signal exists."""
        values = [0.0]
        judge = finite(row.get(JUDGE_COLUMN))
        if judge is not None:
            scaled = judge / self.judge_max if self.judge_max > 1 else judge
            values.append(scaled if not row.get("kept", True) else 1.0 - scaled)
        margin = finite(row.get(LABEL_MARGIN_COLUMN))
        if margin is not None:
            values.append(1.0 - min(1.0, abs(margin)))
        elif (score := finite(row.get("label_error"))) is not None and score > 0:
            values.append(1.0 - 2.0 * abs(score - 0.5))
        return max(values)

    def build_queue(self) -> list[QueueItem]:
        items: list[QueueItem] = []
        cluster_columns = [
            c for c in self.signal_names if c.endswith("_cluster") and c != "exact_dup_cluster"
        ]
        for rid, row in self.signals.items():
            reasons = list(row.get("reasons") or [])
            flags = list(row.get("flags") or [])
            kept = bool(row.get("kept", True))
            if kept and not reasons and not flags and not str(row.get("decided_by", "")).startswith("human:"):
                continue
            severity = 2 if not kept else 1
            scores = [finite(row.get(c)) for c in [*reasons, *flags]]
            clusters = [f"{c}={row[c]}" for c in cluster_columns if row.get(c) is not None and row[c] != -1]
            group = self.groups.get(rid, rid)
            items.append(
                QueueItem(
                    id=rid,
                    source=str(row.get("source") or ""),
                    label=None if row.get("label") is None else str(row["label"]),
                    kept=kept,
                    reasons=reasons,
                    flags=flags,
                    decided_by=str(row.get("decided_by") or ""),
                    severity=severity,
                    uncertainty=round(self.uncertainty(row), 4),
                    top_score=max([s for s in scores if s is not None], default=0.0),
                    group=group,
                    clusters=[f"dup:{group}", *clusters] if rid in self.groups else clusters,
                )
            )
        items.sort(key=QueueItem.sort_key)
        by_id = {item.id: item for item in items}
        for record in self.iter_records(set(by_id)):
            by_id[record.id].text = record.conversation_text().lower()
        return items

    def iter_records(self, wanted: set[str]) -> Iterator[LoadedRecord]:
        """The wanted records, read in one pass over each output file (for search)."""
        for name in ("curated.jsonl", "rejected.jsonl"):
            with open(self.out / name, "rb") as handle:
                for line in handle:
                    obj = json.loads(line)
                    rid = obj["id"] if isinstance(obj["id"], str) else json.dumps(obj["id"])
                    if rid in wanted:
                        yield self.parse(rid, obj, name)

    def checks(self) -> list[str]:
        return sorted({c for item in self.queue for c in item.checks})

    def clusters(self) -> list[str]:
        counts: dict[str, int] = defaultdict(int)
        for item in self.queue:
            for c in item.clusters:
                counts[c] += 1
        return sorted(c for c, n in counts.items() if n > 1)

    def related(self, rid: str) -> list[str]:
        """Ids this record duplicates or conflicts with, from its findings (kept copy first)."""
        out: list[str] = []
        for finding in self.findings.get(rid, []):
            if finding["check"].endswith(DUPLICATE_SUFFIX):
                out.extend(str(r) for r in finding.get("related") or [])
        out = list(dict.fromkeys(r for r in out if r != rid))
        out.sort(key=lambda r: not self.signals.get(r, {}).get("kept", False))
        return out

    def signal_rows(self, rid: str) -> list[tuple[str, Any]]:
        row = self.signals.get(rid, {})
        return [(k, v) for k, v in row.items() if k not in ("id",) and v is not None]


def assigned(rid: str, reviewer: str, reviewers: Sequence[str], overlap: int) -> bool:
    """Each record goes to `overlap` reviewers, spread by a hash of its id."""
    names = sorted(reviewers)
    if reviewer not in names or overlap >= len(names):
        return True
    start = xxhash.xxh3_64_intdigest(rid.encode("utf-8", "surrogatepass")) % len(names)
    return names.index(reviewer) in {(start + j) % len(names) for j in range(overlap)}


def filter_queue(
    items: Iterable[QueueItem],
    *,
    check: str = "",
    cluster: str = "",
    label: str = "",
    source: str = "",
    q: str = "",
) -> list[QueueItem]:
    needle = q.strip().lower()
    return [
        item
        for item in items
        if (not check or check in item.checks)
        and (not cluster or cluster in item.clusters)
        and (not label or item.label == label)
        and (not source or item.source == source)
        and (not needle or needle in item.text or needle in item.id.lower())
    ]
