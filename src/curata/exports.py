"""`curata export`: a finished run's kept records (or each split) as JSONL, Parquet or a Hugging
Face dataset directory, in any record format, or rendered with a local tokenizer's chat template."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curata.engines.store import Part, PartStore
from curata.errors import CurataError, InputError
from curata.formats import get_format
from curata.formats.export import export_record
from curata.jsonio import dump_json, dump_line
from curata.llm.rewrite_apply import REWRITE_COLUMN, with_rewrite
from curata.workdir import DONE, RunDir, atomic_open, read_json

Target = Literal["jsonl", "parquet", "hf"]
RECORD_COLUMNS = ["id", "raw", "format", "turns", "label"]


@dataclass
class ExportResult:
    dest: Path
    counts: dict[str, int]
    tokens: dict[str, float] = field(default_factory=dict)


def final_records(out: Path) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(split or None, row) for every record the run kept, from the run's work area."""
    run = RunDir(out)
    if not (out / "summary.json").exists():
        raise InputError("not a finished curata run (no summary.json); run `curata run` first", path=str(out))
    ingest_done = run.ingest / DONE
    if not ingest_done.exists():
        raise InputError(
            "the run's work area (.curata) is missing; rerun `curata run` into it", path=str(out)
        )
    parts = [Part(*p) for p in read_json(ingest_done)["parts"]]
    store = PartStore(run, parts, {name: "ingest" for name in RECORD_COLUMNS})
    signals = pq.ParquetFile(out / "signals.parquet")
    names = signals.schema_arrow.names
    decision_columns = [c for c in ("kept", "selected", "split", REWRITE_COLUMN) if c in names]
    decisions = signals.read(columns=decision_columns)
    kept = np.asarray(decisions.column("kept").to_numpy(zero_copy_only=False), dtype=bool)
    if "selected" in names:
        kept &= np.asarray(decisions.column("selected").to_numpy(zero_copy_only=False), dtype=bool)
    splits = decisions.column("split").to_pylist() if "split" in names else [None] * len(kept)
    rewrites = decisions.column(REWRITE_COLUMN).to_pylist() if REWRITE_COLUMN in names else None
    for part in parts:
        table = store.read_part(part.index, RECORD_COLUMNS)
        for offset, row in enumerate(table.to_pylist()):
            position = part.start + offset
            if kept[position]:
                if rewrites is not None:  # as in curated.jsonl: the verified rewrite is the answer
                    row["raw"], row["turns"] = with_rewrite(
                        row["raw"], row["format"], row["turns"], row["label"], rewrites[position]
                    )
                yield splits[position], row


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A table with the union of all records' fields; a field whose type differs between records
    is stored as JSON text rather than lost."""
    if not rows:
        return pa.table({})
    try:
        return pa.Table.from_struct_array(pa.array(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        kinds: dict[str, set[type]] = defaultdict(set)
        for row in rows:
            for key, value in row.items():
                if value is not None:
                    kinds[key].add(type(value))
        mixed = {k for k, types in kinds.items() if len(types) > 1 or types & {dict, list}}
        encoded = [
            {k: dump_json(v) if k in mixed and v is not None else v for k, v in r.items()} for r in rows
        ]
        return pa.Table.from_struct_array(pa.array(encoded))


class ChatTemplate:
    """Renders conversations with a local tokenizer's own chat template and counts tokens."""

    def __init__(self, path: str) -> None:
        if not Path(path).exists():
            raise InputError("no such tokenizer or model folder", path=path)
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise CurataError(
                "--chat-template-from needs transformers: pip install 'curata[train]'"
            ) from None
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if not getattr(self.tokenizer, "chat_template", None):
            raise InputError("this tokenizer has no chat template", path=path)

    def render(self, turns: list[dict[str, str]]) -> tuple[str, int]:
        messages = [{"role": t["role"], "content": t["content"]} for t in turns]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return str(text), len(ids)


def export_run(
    out: Path,
    dest: Path,
    target: Target = "jsonl",
    record_format: str | None = None,
    by_split: bool = False,
    chat_template: str | None = None,
) -> ExportResult:
    if record_format is not None:
        get_format(record_format)
    renderer = ChatTemplate(chat_template) if chat_template else None
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    token_counts: list[int] = []
    for split, row in final_records(out):
        if renderer is not None:
            text, n_tokens = renderer.render(row["turns"])
            record: dict[str, Any] = {"id": row["id"], "text": text, "n_tokens": n_tokens}
            token_counts.append(n_tokens)
        else:
            record = export_record(
                row["raw"], row["id"], row["format"], row["turns"], row["label"], record_format
            )
        groups[(split or "train") if by_split else "all"].append(record)
    dest.mkdir(parents=True, exist_ok=True)
    writers = {"jsonl": write_jsonl, "parquet": write_parquet, "hf": write_hf}
    writers[target](dest, groups)
    tokens: dict[str, float] = {}
    if token_counts:
        counts = np.asarray(token_counts)
        tokens = {
            "examples": len(counts),
            "total": int(counts.sum()),
            "mean": round(float(counts.mean()), 1),
            "p50": float(np.percentile(counts, 50)),
            "p95": float(np.percentile(counts, 95)),
            "max": int(counts.max()),
        }
    result = ExportResult(dest, {name: len(rows) for name, rows in groups.items()}, tokens)
    with atomic_open(dest / "export.json") as handle:
        json.dump(
            {"counts": result.counts, "tokens": tokens, "target": target, "format": record_format},
            handle,
            indent=2,
        )
    return result


def write_jsonl(dest: Path, groups: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in groups.items():
        with atomic_open(dest / f"{name}.jsonl", "wb") as handle:
            for row in rows:
                handle.write(dump_line(row))


def write_parquet(dest: Path, groups: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in groups.items():
        with atomic_open(dest / f"{name}.parquet", "wb") as handle:
            pq.write_table(rows_to_table(rows), handle, compression="zstd")


def write_hf(dest: Path, groups: dict[str, list[dict[str, Any]]]) -> None:
    try:
        import datasets
    except ImportError:
        raise CurataError("Hugging Face export needs the datasets package: pip install datasets") from None
    splits = {name: datasets.Dataset(rows_to_table(rows)) for name, rows in groups.items()}
    if list(splits) == ["all"]:
        splits["all"].save_to_disk(str(dest))
    else:
        datasets.DatasetDict(splits).save_to_disk(str(dest))
