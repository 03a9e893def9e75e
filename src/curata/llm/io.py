"""Reading records for the LLM commands (same formats and ids as `curata run`) and writing JSONL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any

import orjson

from curata.errors import CurataError, FieldError
from curata.formats import RecordFormat
from curata.ingest import DETECT_SAMPLE, choose_format, id_prefixes, record_id
from curata.inputs import discover, read_items
from curata.records import Record
from curata.workdir import atomic_open


@dataclass(frozen=True)
class Loaded:
    """A record with its original object (extra fields such as `label` travel with it)."""

    record: Record
    obj: dict[str, Any]
    format: type[RecordFormat]


@dataclass
class LoadResult:
    records: list[Loaded]
    bad_lines: int


def load_records(paths: Sequence[str], forced_format: str | None = None) -> LoadResult:
    """Every record of the inputs; lines that cannot be read are counted and skipped."""
    inputs = discover(paths)
    out: list[Loaded] = []
    bad = 0
    for source, prefix in zip(inputs, id_prefixes(inputs), strict=True):
        items = read_items(source)
        sample = list(islice(items, DETECT_SAMPLE))
        fmt = choose_format(source, sample, forced_format)
        for position, item in enumerate(chain(sample, items)):
            if item.obj is None or fmt is None:
                bad += 1
                continue
            try:
                turns, label = fmt.parse(item.obj)
            except (FieldError, TypeError, ValueError):
                bad += 1
                continue
            rid = record_id(item.obj, position, prefix)
            out.append(
                Loaded(Record(rid, tuple(turns), label, source.display, fmt.name), dict(item.obj), fmt)
            )
    return LoadResult(out, bad)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically (a killed command leaves no half file); returns the count."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
            n += 1
    return n


def read_jsonl_objects(path: Path) -> list[dict[str, Any]]:
    """JSON Lines (or a JSON array) of objects; errors name the file and line."""
    if not path.is_file():
        raise CurataError("file not found", path=str(path))
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise CurataError(f"not valid JSON: {exc}", path=str(path)) from None
        return [d for d in data if isinstance(d, dict)]
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise CurataError(f"not valid JSON: {exc}", path=str(path), line=number) from None
        if isinstance(value, dict):
            rows.append(value)
    return rows
