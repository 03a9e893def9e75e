"""Input files: find them, tell their type, and stream their records as parsed JSON objects.

Every file type yields `RawItem`s (an object, or the error that kept a line from being one) with
the 1-based line (or row) it came from, so a bad line can be reported as `file:line` and skipped
without losing its neighbours. Nothing here loads a whole file into memory.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, cast

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curata.errors import InputError
from curata.jsonio import STRICT_DECODER, loads_exact

FileKind = Literal["jsonl", "json", "parquet", "csv", "tsv", "arrow"]

JSONL_SUFFIXES = (
    ".jsonl",
    ".ndjson",
    ".jsonl.gz",
    ".jsonl.zst",
    ".ndjson.gz",
    ".ndjson.zst",
    ".json.gz",
    ".json.zst",
)
SUFFIX_KINDS: dict[str, FileKind] = {
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".arrow": "arrow",
}
UTF8_BOM = b"\xef\xbb\xbf"
ARRAY_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class RawItem:
    """One input record before format parsing: `obj` when the line parsed, else `error`."""

    line: int
    obj: dict[str, Any] | None
    error: str | None = None
    text: str | None = None
    text_b64: str | None = None


@dataclass(frozen=True)
class InputFile:
    """One logical input: a data file, or a Hugging Face dataset split made of Arrow shards."""

    path: Path
    kind: FileKind
    shards: tuple[Path, ...] = ()

    @property
    def display(self) -> str:
        return str(self.path)


def file_kind(path: Path) -> FileKind | None:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return SUFFIX_KINDS.get(path.suffix.lower())


def discover(specs: Iterable[str]) -> list[InputFile]:
    """Expand the command line's inputs (files, globs, directories) into input files, in order."""
    found: list[InputFile] = []
    for spec in specs:
        matches = sorted(glob.glob(spec)) if glob.has_magic(spec) else [spec]
        if not matches:
            raise InputError("no file matches this pattern", path=spec)
        for match in matches:
            found.extend(discover_path(Path(match)))
    if not found:
        raise InputError("no input files given")
    return found


def discover_path(path: Path) -> list[InputFile]:
    if not path.exists():
        raise InputError("no such file or directory", path=str(path))
    if path.is_dir():
        return discover_directory(path)
    if not os.access(path, os.R_OK):
        raise InputError("file is not readable (permission denied)", path=str(path))
    kind = file_kind(path)
    if kind is None:
        raise InputError(
            "unknown file type (expected .jsonl, .jsonl.gz, .jsonl.zst, .json, .parquet, .csv, .tsv, .arrow)",
            path=str(path),
        )
    return [InputFile(path, kind)]


def discover_directory(path: Path) -> list[InputFile]:
    """A Hugging Face `save_to_disk` directory (one input per split), or a folder of data files."""
    if (path / "dataset_dict.json").exists():
        splits = json.loads((path / "dataset_dict.json").read_text())["splits"]
        return [hf_split(path / split) for split in splits]
    if (path / "state.json").exists():
        return [hf_split(path)]
    files = sorted(p for p in path.rglob("*") if p.is_file() and file_kind(p) and not p.name.startswith("."))
    if not files:
        raise InputError(
            "no data files in this directory (.jsonl, .json, .parquet, .csv, .arrow)", path=str(path)
        )
    return [InputFile(p, kind) for p in files if (kind := file_kind(p)) is not None]


def hf_split(path: Path) -> InputFile:
    state = json.loads((path / "state.json").read_text())
    shards = tuple(path / f["filename"] for f in state.get("_data_files", []))
    if not shards:
        raise InputError("Hugging Face dataset directory lists no data files in state.json", path=str(path))
    return InputFile(path, "arrow", shards)


def read_items(source: InputFile) -> Iterator[RawItem]:
    """Stream the records of one input as RawItems."""
    readers = {
        "jsonl": read_jsonl,
        "json": read_json,
        "parquet": read_parquet,
        "csv": read_csv,
        "tsv": read_csv,
        "arrow": read_arrow,
    }
    try:
        yield from readers[source.kind](source)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=source.display) from None
    except (pa.ArrowInvalid, pa.ArrowIOError) as exc:
        raise InputError(f"cannot read {source.kind} file: {exc}", path=source.display) from None


def open_binary(path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    if name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")))
    return open(path, "rb")


def bad_item(line: int, error: str, data: bytes) -> RawItem:
    """A bad line keeps its text; bytes that are not UTF-8 are also kept exactly, base64-encoded."""
    try:
        return RawItem(line, None, error, data.decode("utf-8"))
    except UnicodeDecodeError:
        import base64

        return RawItem(
            line, None, error, data.decode("utf-8", "backslashreplace"), base64.b64encode(data).decode()
        )


def parse_json_object(data: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """Strict JSON (no NaN/Infinity, valid UTF-8) that must be an object."""
    try:
        obj = loads_exact(data)
    except orjson.JSONDecodeError as exc:
        return None, f"invalid JSON: {describe_json_error(exc, data)}"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {json_type(obj)}"
    return obj, None


def describe_json_error(exc: orjson.JSONDecodeError, data: bytes | str) -> str:
    msg = str(exc.msg)
    if "utf-8" in msg.lower() or "surrogate" in msg.lower():
        return "not valid UTF-8 text" if "utf-8" in msg.lower() else msg
    return f"{msg} (column {exc.colno})" if exc.colno else msg


def json_type(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null"
    )


def read_jsonl(source: InputFile) -> Iterator[RawItem]:
    with open_binary(source.path) as handle:
        for number, raw_line in enumerate(handle, start=1):
            line = raw_line[len(UTF8_BOM) :] if number == 1 and raw_line.startswith(UTF8_BOM) else raw_line
            if not line.strip():
                continue
            obj, error = parse_json_object(line)
            # A bad line is kept exactly as written, without its line ending.
            yield RawItem(number, obj) if error is None else bad_item(number, error, line.rstrip(b"\r\n"))


def read_json(source: InputFile) -> Iterator[RawItem]:
    """A JSON array streamed element by element (decoded incrementally, never whole in memory).

    A `.json` file that does not start with `[` is read as JSON Lines, which many tools write.
    """
    with open(source.path, "rb") as handle:
        head = handle.read(4096).lstrip(UTF8_BOM).lstrip()
    if not head:
        return
    if not head.startswith(b"["):
        yield from read_jsonl(source)
        return
    yield from stream_json_array(source)


MAX_ELEMENT_CHARS = 512 << 20


class JsonArrayStream:
    """Walks a JSON array in a file, decoding one element at a time with the C decoder.

    The buffer grows only while an element is incomplete, so memory follows the largest record,
    not the file; line numbers are counted as the walk goes so each element knows where it began.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.buffer = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def fill(self, size: int = ARRAY_CHUNK) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(size)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise ValueError("not valid UTF-8 text") from None
        self.buffer = self.buffer[self.pos :] + text
        self.pos = 0
        self.eof = not chunk
        return True

    def peek(self, separators: str = "") -> str | None:
        """The next significant character after whitespace and separators, or None at the end."""
        while True:
            buffer, pos = self.buffer, self.pos
            while pos < len(buffer) and (buffer[pos].isspace() or buffer[pos] in separators):
                if buffer[pos] == "\n":
                    self.line += 1
                pos += 1
            self.pos = pos
            if pos < len(buffer):
                return buffer[pos]
            if not self.fill():
                return None

    def value(self) -> Any:
        """Decode the value starting at the cursor, reading more of the file while it is incomplete."""
        size = ARRAY_CHUNK
        while True:
            try:
                obj, end = STRICT_DECODER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or len(self.buffer) - self.pos > MAX_ELEMENT_CHARS:
                    line = self.line + self.buffer.count("\n", self.pos, exc.pos)
                    raise ArrayError(
                        line, f"invalid JSON: {exc.msg} (in the record from line {self.line})"
                    ) from None
                size *= 2
                self.fill(size)
                continue
            except ValueError as exc:
                raise ArrayError(self.line, f"invalid JSON: {exc}") from None
            if end == len(self.buffer) and not self.eof and not isinstance(obj, (dict, list, str)):
                self.fill(size)  # a number or literal cut at the chunk's end
                continue
            self.line += self.buffer.count("\n", self.pos, end)
            self.pos = end
            return obj


class ArrayError(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(message)


def stream_json_array(source: InputFile) -> Iterator[RawItem]:
    with open(source.path, "rb") as handle:
        stream = JsonArrayStream(handle)
        try:
            stream.fill()
            if stream.buffer.startswith("\ufeff"):
                stream.pos = 1
            stream.peek()
            stream.pos += 1  # the opening '[' (checked by the caller)
            while True:
                nxt = stream.peek(",")
                if nxt is None:
                    yield RawItem(stream.line, None, "invalid JSON: the array is not closed (missing ']')")
                    return
                if nxt == "]":
                    return
                start_line = stream.line
                obj = stream.value()
                if not isinstance(obj, dict):
                    text = json.dumps(obj, ensure_ascii=False)[:10000]
                    yield RawItem(start_line, None, f"expected a JSON object, got {json_type(obj)}", text)
                    continue
                yield RawItem(start_line, obj)
        except ArrayError as exc:
            rest = stream.buffer[stream.pos : stream.pos + 10000]
            yield RawItem(exc.line, None, f"{exc}; the rest of the file could not be read", rest)
        except ValueError as exc:
            yield RawItem(stream.line, None, f"{exc}; the rest of the file could not be read")


def read_parquet(source: InputFile) -> Iterator[RawItem]:
    parquet = pq.ParquetFile(source.path)
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for obj in batch.to_pylist():
            row += 1
            yield RawItem(row, obj)


def read_arrow(source: InputFile) -> Iterator[RawItem]:
    row = 0
    for shard in source.shards or (source.path,):
        with pa.memory_map(str(shard)) as mapped:
            try:
                reader: Any = pa.ipc.open_stream(mapped)
                batches: Iterable[pa.RecordBatch] = reader
            except pa.ArrowInvalid:
                mapped.seek(0)
                file_reader = pa.ipc.open_file(mapped)
                batches = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
            for batch in batches:
                for obj in batch.to_pylist():
                    row += 1
                    yield RawItem(row, obj)


def read_csv(source: InputFile) -> Iterator[RawItem]:
    csv.field_size_limit(sys.maxsize)
    delimiter = "\t" if source.kind == "tsv" else ","
    with open(source.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        previous_end = reader.line_num
        for row in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            text = delimiter.join(row)
            if any("\udc80" <= ch <= "\udcff" for ch in text):
                raw = text.encode("utf-8", "surrogateescape")
                yield bad_item(start, "not valid UTF-8 text", raw)
                continue
            if len(row) != len(header):
                yield RawItem(start, None, f"expected {len(header)} columns, got {len(row)}", text)
                continue
            yield RawItem(start, dict(zip(header, row, strict=True)))
