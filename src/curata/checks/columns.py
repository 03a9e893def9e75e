"""Column names a check code owns in the signal table (and so in `signals.parquet`).

The score column carries the code's own name, so `signals.parquet` reads naturally
(`df["refusal"] > 0.5`); side columns carry a double-underscore suffix.
"""

from __future__ import annotations

import pyarrow as pa


def score_column(code: str) -> str:
    return code


def message_column(code: str) -> str:
    return f"{code}__msg"


def related_column(code: str) -> str:
    return f"{code}__related"


def turn_column(code: str) -> str:
    return f"{code}__turn"


def check_column_types(code: str, *, related: bool = False, turn: bool = False) -> dict[str, pa.DataType]:
    types: dict[str, pa.DataType] = {score_column(code): pa.float32(), message_column(code): pa.string()}
    if related:
        types[related_column(code)] = pa.list_(pa.string())
    if turn:
        types[turn_column(code)] = pa.int32()
    return types


def is_side_column(name: str) -> bool:
    return "__" in name
