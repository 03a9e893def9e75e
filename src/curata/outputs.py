"""Writing the run contract (curated, rejected, findings, signals, bad lines) and proving that
every input record landed in exactly one of curated or rejected.

Files are written into a staging folder and moved into OUT/ only after the nothing-lost check
passes; `summary.json` is moved last, so its presence marks a finished run.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curata import faults
from curata.checks.columns import message_column, related_column, score_column, turn_column
from curata.checks.registry import CHECKS
from curata.engines.store import PartStore
from curata.errors import InvariantError
from curata.formats.export import export_record
from curata.jsonio import dump_json, dump_line, loads_exact
from curata.llm.rewrite_apply import REWRITE_COLUMN, with_rewrite
from curata.pipeline import Plan
from curata.workdir import CONTRACT_FILES, RunDir

EXCLUDED_FROM_SIGNALS = frozenset({"raw", "turns"})
NOT_SELECTED = "not_selected"
# A record left out by the selection budget is not a defect: its finding is informational.
SEVERITY_OF = {NOT_SELECTED: "info"}
SPLITS_DIR = "splits"


@dataclass
class OutputCounts:
    kept: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    # Each rejected record counted once, under its first reason: the steps of the funnel.
    first_reason: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def signal_columns(plan: Plan) -> list[str]:
    return [name for name in plan.columns if name not in EXCLUDED_FROM_SIGNALS]


def id_hash(rid: str) -> int:
    return xxhash.xxh3_64_intdigest(rid.encode("utf-8", "surrogatepass"))


class ContractWriter:
    """Streams parts into the staged contract files, counting as it goes."""

    MAX_EXAMPLES = 5

    def __init__(self, run: RunDir, plan: Plan, store: PartStore, export_format: str | None) -> None:
        self.run = run
        self.plan = plan
        self.store = store
        self.export_format = export_format
        self.codes = [c for c in plan.codes if score_column(c) in plan.columns]
        self.side = {
            code: {
                "msg": message_column(code) if message_column(code) in plan.columns else None,
                "related": related_column(code) if related_column(code) in plan.columns else None,
                "turn": turn_column(code) if turn_column(code) in plan.columns else None,
            }
            for code in self.codes
        }
        self.counts = OutputCounts()
        self.split_handles: dict[str, IO[bytes]] = {}

    def staged(self, name: str) -> Path:
        return self.run.staging / name

    def write(self, dataset_findings: Iterable[dict[str, Any]]) -> OutputCounts:
        self.run.staging.mkdir(parents=True, exist_ok=True)
        signals = signal_columns(self.plan)
        with (
            open(self.staged("curated.jsonl"), "wb") as curated,
            open(self.staged("rejected.jsonl"), "wb") as rejected,
            open(self.staged("findings.jsonl"), "wb") as findings,
        ):
            writer: pq.ParquetWriter | None = None
            try:
                for part in self.store.parts:
                    table = self.store.read_part(part.index, list(self.plan.columns))
                    self.write_records(table, curated, rejected, findings)
                    signal_table = table.select(signals)
                    if writer is None:
                        writer = pq.ParquetWriter(
                            self.staged("signals.parquet"), signal_table.schema, compression="zstd"
                        )
                    writer.write_table(signal_table)
                    faults.reached("output-part")
                if writer is None:
                    empty = pa.schema([pa.field(n, self.plan.columns[n]) for n in signals])
                    pq.write_table(empty.empty_table(), self.staged("signals.parquet"))
            finally:
                if writer is not None:
                    writer.close()
            for finding in dataset_findings:
                findings.write(dump_line(finding))
        for handle in self.split_handles.values():
            handle.close()
        shutil.copyfile(self.run.ingest_bad_lines, self.staged("bad_lines.jsonl"))
        return self.counts

    def write_records(
        self, table: pa.Table, curated: IO[bytes], rejected: IO[bytes], findings: IO[bytes]
    ) -> None:
        columns = {name: table.column(name).to_pylist() for name in self.needed_columns()}
        scores = {
            code: table.column(score_column(code)).to_numpy(zero_copy_only=False) for code in self.codes
        }
        for i, rid in enumerate(columns["id"]):
            kept, reasons, decided_by = self.final_decision(i, columns)
            flags: list[str] = columns["flags"][i] or []
            severities = [
                *((c, SEVERITY_OF.get(c, "error")) for c in reasons),
                *((c, "warning") for c in flags),
            ]
            for code, severity in severities:
                finding = self.finding(code, severity, rid, i, columns, float(scores[code][i]))
                findings.write(dump_line(finding))
                self.remember(code, finding, columns["turns"][i])
            # A verified LLM rewrite replaces the answer on the way out (provenance: signals).
            raw, turns = with_rewrite(
                columns["raw"][i],
                columns["format"][i],
                columns["turns"][i],
                columns["label"][i],
                columns[REWRITE_COLUMN][i] if REWRITE_COLUMN in columns else None,
            )
            record = export_record(
                raw, rid, columns["format"][i], turns, columns["label"][i], self.export_format
            )
            if kept:
                self.counts.kept += 1
                line = dump_line(record)
                curated.write(line)
                if "split" in columns and columns["split"][i] is not None:
                    self.split_file(columns["split"][i]).write(line)
            else:
                self.counts.rejected += 1
                related = sorted({r for code in reasons for r in self.related(code, i, columns)})
                entry = {
                    "id": rid,
                    "reasons": reasons,
                    "record": record,
                    "decided_by": decided_by,
                    "related": related,
                }
                rejected.write(dump_line(entry))
            self.counts.reasons.update(reasons)
            if reasons:
                self.counts.first_reason[reasons[0]] += 1
            self.counts.flagged.update(reasons + flags)

    def final_decision(self, i: int, columns: dict[str, list[Any]]) -> tuple[bool, list[str], str]:
        """The rules' decision, then the selection budget's: a record the rules keep but the
        selection leaves out is rejected as `not_selected`."""
        kept: bool = columns["kept"][i]
        reasons: list[str] = columns["reasons"][i] or []
        decided_by: str = columns["decided_by"][i]
        if kept and "selected" in columns and not columns["selected"][i]:
            return False, [NOT_SELECTED], "select"
        return kept, reasons, decided_by

    def split_file(self, name: str) -> IO[bytes]:
        handle = self.split_handles.get(name)
        if handle is None:
            (self.run.staging / SPLITS_DIR).mkdir(parents=True, exist_ok=True)
            handle = open(self.run.staging / SPLITS_DIR / f"{name}.jsonl", "wb")  # noqa: SIM115
            self.split_handles[name] = handle
        return handle

    def needed_columns(self) -> list[str]:
        names = ["id", "raw", "format", "turns", "label", "kept", "reasons", "flags", "decided_by"]
        names += [c for c in ("selected", "split", REWRITE_COLUMN) if c in self.plan.columns]
        for side in self.side.values():
            names.extend(c for c in side.values() if c is not None)
        return list(dict.fromkeys(names))

    def related(self, code: str, i: int, columns: dict[str, list[Any]]) -> list[str]:
        name = self.side[code]["related"]
        return list(columns[name][i] or []) if name else []

    def finding(
        self, code: str, severity: str, rid: str, i: int, columns: dict[str, list[Any]], score: float
    ) -> dict[str, Any]:
        side = self.side[code]
        message = (columns[side["msg"]][i] if side["msg"] else None) or CHECKS[code].description
        out: dict[str, Any] = {
            "id": rid,
            "check": code,
            "severity": severity,
            "message": message,
            "related": self.related(code, i, columns),
            "score": round(score, 6) if np.isfinite(score) else None,
        }
        if side["turn"] and columns[side["turn"]][i] is not None:
            out["turn"] = columns[side["turn"]][i]
        return out

    def remember(self, code: str, finding: dict[str, Any], turns: list[dict[str, str]]) -> None:
        examples = self.counts.examples.setdefault(code, [])
        if len(examples) < self.MAX_EXAMPLES:
            examples.append({**finding, "turns": [{**t, "content": t["content"][:600]} for t in turns[-2:]]})


def iter_output_ids(path: Path, key: str = "id") -> Iterator[str]:
    with open(path, "rb") as handle:
        for line in handle:
            value = loads_exact(line)[key]
            yield value if isinstance(value, str) else dump_json(value)


def verify_nothing_lost(run: RunDir, store: PartStore) -> None:
    """Curated + rejected ids, read back from the staged files, must equal the input ids exactly."""
    expected = np.sort(
        np.fromiter(
            (
                id_hash(rid)
                for part in store.parts
                for rid in store.read_part(part.index, ["id"]).column(0).to_pylist()
            ),
            dtype=np.uint64,
        )
    )
    written = np.sort(
        np.fromiter(
            (
                id_hash(rid)
                for name in ("curated.jsonl", "rejected.jsonl")
                for rid in iter_output_ids(run.staging / name)
            ),
            dtype=np.uint64,
        )
    )
    if len(written) != len(expected) or not np.array_equal(written, expected):
        raise InvariantError(
            f"nothing-lost check failed: {len(expected)} input records, {len(written)} written to "
            "curated + rejected (or the ids differ); the outputs were not published"
        )


def publish(run: RunDir, summary_name: str = "summary.json") -> None:
    """Move staged files into OUT/, the summary last."""
    shutil.rmtree(run.out / SPLITS_DIR, ignore_errors=True)
    if (run.staging / SPLITS_DIR).exists():
        os.replace(run.staging / SPLITS_DIR, run.out / SPLITS_DIR)
    names = [n for n in CONTRACT_FILES if n != summary_name and (run.staging / n).exists()]
    for name in [*names, summary_name]:
        if (run.staging / name).exists():
            os.replace(run.staging / name, run.out / name)
            faults.reached("publish")
    shutil.rmtree(run.staging, ignore_errors=True)
