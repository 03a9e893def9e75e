"""Record formats: a registry keyed by name, and detection from a sample of records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from curata.formats.alpaca import Alpaca
from curata.formats.base import RecordFormat
from curata.formats.dolly import Dolly
from curata.formats.messages import Messages
from curata.formats.prompt_completion import PromptCompletion
from curata.formats.sharegpt import ShareGPT
from curata.formats.text_label import TextLabel

ALL_FORMATS: tuple[type[RecordFormat], ...] = (Alpaca, Dolly, ShareGPT, Messages, PromptCompletion, TextLabel)
FORMATS: dict[str, type[RecordFormat]] = {f.name: f for f in sorted(ALL_FORMATS, key=lambda f: f.priority)}
FORMAT_NAMES = tuple(FORMATS)


def get_format(name: str) -> type[RecordFormat]:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format '{name}' (known: {', '.join(FORMATS)})") from None


def match_format(obj: Mapping[str, Any]) -> type[RecordFormat] | None:
    """The highest-priority format whose required fields the object has."""
    for fmt in FORMATS.values():
        if fmt.matches(obj):
            return fmt
    return None


def detect_format(sample: Iterable[Mapping[str, Any]]) -> type[RecordFormat] | None:
    """The format most records in the sample match (ties go to the higher priority)."""
    votes: Counter[str] = Counter()
    for obj in sample:
        fmt = match_format(obj)
        if fmt is not None:
            votes[fmt.name] += 1
    if not votes:
        return None
    best = max(votes.values())
    return next(f for name, f in FORMATS.items() if votes[name] == best)


__all__ = ["FORMATS", "FORMAT_NAMES", "RecordFormat", "detect_format", "get_format", "match_format"]
