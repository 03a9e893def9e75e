"""Read input files into canonical record batches: detect each file's format, give every record its
id, keep its original JSON, and set bad lines aside with file, line and reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from curata.errors import BadLineError, FieldError, InputError
from curata.formats import FORMATS, RecordFormat, detect_format, get_format
from curata.inputs import InputFile, RawItem, read_items
from curata.jsonio import dump_json, json_default
from curata.records import RECORD_SCHEMA
from curata.review.loop import Correction

DETECT_SAMPLE = 200


@dataclass(frozen=True, slots=True)
class BadLine:
    file: str
    line: int
    error: str
    text: str | None
    text_b64: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "line": self.line, "error": self.error, "text": self.text}
        if self.text_b64 is not None:
            out["text_b64"] = self.text_b64
        return out


@dataclass
class InputSummary:
    path: str
    format: str | None
    records: int = 0
    bad_lines: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "records": self.records,
            "bad_lines": self.bad_lines,
        }


@dataclass
class IngestOptions:
    format: str | None = None
    strict: bool = False
    batch_rows: int = 8192
    batch_bytes: int = 64 << 20
    # Human edits and relabels by record id (from the review store), applied as records are read.
    corrections: dict[str, Correction] | None = None


def record_id(obj: dict[str, Any], position: int, prefix: str | None) -> str:
    value = obj.get("id")
    if value is not None and not isinstance(value, bool):
        return value if isinstance(value, str) else dump_json(value)
    return f"{prefix}:{position}" if prefix else str(position)


def id_prefixes(inputs: Sequence[InputFile]) -> list[str | None]:
    """Ids of records without an `id` field: the position alone for one input, else `<file name>:<position>`
    (the path relative to the inputs' common folder where file names repeat)."""
    if len(inputs) == 1:
        return [None]
    names = [f.path.name for f in inputs]
    if len(set(names)) == len(names):
        return list(names)
    resolved = [f.path.resolve() for f in inputs]
    common = Path(*_common_parts([p.parts for p in resolved]))
    return [str(p.relative_to(common)) for p in resolved]


def _common_parts(parts: list[tuple[str, ...]]) -> tuple[str, ...]:
    common: list[str] = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return tuple(common)


class BatchBuilder:
    """Accumulates canonical rows and hands out record batches of bounded rows and bytes."""

    def __init__(self, options: IngestOptions, start_row: int = 0) -> None:
        self.options = options
        self.next_row = start_row
        self.reset()

    def reset(self) -> None:
        self.rows: list[int] = []
        self.ids: list[str] = []
        self.sources: list[str] = []
        self.formats: list[str] = []
        self.turns: list[list[dict[str, str]]] = []
        self.labels: list[str | None] = []
        self.raws: list[str] = []
        self.nbytes = 0

    def add(
        self, rid: str, source: str, fmt: str, turns: list[dict[str, str]], label: str | None, raw: str
    ) -> None:
        self.rows.append(self.next_row)
        self.next_row += 1
        self.ids.append(rid)
        self.sources.append(source)
        self.formats.append(fmt)
        self.turns.append(turns)
        self.labels.append(label)
        self.raws.append(raw)
        self.nbytes += len(raw)

    def full(self) -> bool:
        return len(self.rows) >= self.options.batch_rows or self.nbytes >= self.options.batch_bytes

    def take(self) -> pa.RecordBatch:
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(self.rows, pa.int64()),
                pa.array(self.ids, pa.string()),
                pa.array(self.sources, pa.string()),
                pa.array(self.formats, pa.string()),
                pa.array(self.turns, RECORD_SCHEMA.field("turns").type),
                pa.array(self.labels, pa.string()),
                pa.array(self.raws, pa.large_string()),
            ],
            schema=RECORD_SCHEMA,
        )
        self.reset()
        return batch


def choose_format(source: InputFile, sample: list[RawItem], forced: str | None) -> type[RecordFormat] | None:
    if forced:
        return get_format(forced)
    objects = [item.obj for item in sample if item.obj is not None]
    if not objects:
        return None
    fmt = detect_format(objects)
    if fmt is None:
        fields = sorted({key for obj in objects[:20] for key in obj})
        expected = "; ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
        raise InputError(
            f"cannot detect the record format: records have fields {fields}; expected one of: {expected}. "
            "Use --format to say which fields hold the conversation.",
            path=source.display,
            line=next(item.line for item in sample if item.obj is not None),
        )
    return fmt


def ingest(
    inputs: Sequence[InputFile],
    options: IngestOptions,
    emit: Callable[[pa.RecordBatch], None],
    report_bad: Callable[[BadLine], None],
    on_item: Callable[[int], None] | None = None,
) -> list[InputSummary]:
    """Stream every input into canonical batches (`emit`) and bad lines (`report_bad`)."""
    builder = BatchBuilder(options)
    summaries: list[InputSummary] = []
    for source, prefix in zip(inputs, id_prefixes(inputs), strict=True):
        items = read_items(source)
        sample = list(islice(items, DETECT_SAMPLE))
        fmt = choose_format(source, sample, options.format)
        summary = InputSummary(source.display, fmt.name if fmt else None)
        summaries.append(summary)
        for position, item in enumerate(chain(sample, items)):
            if on_item is not None:
                on_item(1)
            bad = convert(item, fmt, source, position, prefix, builder)
            if bad is None:
                summary.records += 1
            else:
                summary.bad_lines += 1
                if options.strict:
                    raise BadLineError(bad.error, path=bad.file, line=bad.line)
                report_bad(bad)
            if builder.full():
                emit(builder.take())
    if builder.rows:
        emit(builder.take())
    return summaries


def convert(
    item: RawItem,
    fmt: type[RecordFormat] | None,
    source: InputFile,
    position: int,
    prefix: str | None,
    builder: BatchBuilder,
) -> BadLine | None:
    """Add one item to the batch, or say why it is a bad line."""
    if item.obj is None or fmt is None:
        return BadLine(source.display, item.line, item.error or "no record", item.text, item.text_b64)
    obj = item.obj
    rid = record_id(obj, position, prefix)
    try:
        turns, label = fmt.parse(obj)
        correction = (builder.options.corrections or {}).get(rid)
        if correction is not None:
            turns, label, obj = correction.apply(fmt, turns, label, obj)
        raw = dump_json(obj)
    except FieldError as exc:
        return BadLine(source.display, item.line, f"{exc} (format {fmt.name})", dump_json_safe(obj))
    except (TypeError, ValueError) as exc:
        return BadLine(source.display, item.line, f"cannot store record: {exc}", dump_json_safe(obj))
    builder.add(
        rid,
        source.display,
        fmt.name,
        [{"role": str(t.role), "content": t.content} for t in turns],
        label,
        raw,
    )
    return None


def dump_json_safe(obj: Any) -> str:
    """The record as JSON text for bad_lines.jsonl, even when it holds text that is not valid Unicode."""
    return json.dumps(obj, ensure_ascii=True, default=json_default)
