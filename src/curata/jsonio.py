"""JSON in and out, exactly: strict parsing (no NaN/Infinity, valid UTF-8) and integers of any
size kept as integers (orjson alone would read integers beyond 64 bits as floats)."""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from typing import Any

import orjson

BIG_INTEGER = re.compile(r"\d{19,}")
BIG_INTEGER_BYTES = re.compile(rb"\d{19,}")


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


STRICT_DECODER = json.JSONDecoder(parse_constant=reject_constant, strict=True)


def loads_exact(data: bytes | str) -> Any:
    """Parse strict JSON; raises orjson.JSONDecodeError (a ValueError) on invalid input."""
    value = orjson.loads(data)
    if isinstance(data, bytes):
        if BIG_INTEGER_BYTES.search(data):
            return STRICT_DECODER.decode(data.decode("utf-8"))
    elif BIG_INTEGER.search(data):
        return STRICT_DECODER.decode(data)
    return value


def json_default(value: Any) -> Any:
    """Values Parquet and Arrow may hold that JSON has no type for."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def dump_json(obj: Any) -> str:
    """Compact JSON text, exact for integers of any size."""
    try:
        return orjson.dumps(obj, default=json_default).decode()
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
        return json.dumps(
            obj, ensure_ascii=False, separators=(",", ":"), default=json_default, allow_nan=False
        )


def dump_line(obj: Any) -> bytes:
    """One JSON Lines line (UTF-8, newline-terminated)."""
    return dump_json(obj).encode("utf-8") + b"\n"
