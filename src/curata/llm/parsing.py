"""Reading structured answers from models that do not quite follow instructions: JSON inside code
fences or surrounded by chatter, single quotes, trailing commas, Python literals, and plain
`Score: 4` lines when there is no JSON at all."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

FENCE = re.compile(r"```(?:json|JSON|javascript|python)?\s*\n?(.*?)```", re.DOTALL)
TRAILING_COMMA = re.compile(r",\s*([}\]])")
PY_LITERALS = {"true": "True", "false": "False", "null": "None"}
BARE_WORD = re.compile(r"\b(true|false|null)\b")


def balanced_objects(text: str) -> Iterator[str]:
    """Every `{...}` span with balanced braces (quote-aware), outermost first, in order."""
    start = 0
    while True:
        begin = text.find("{", start)
        if begin < 0:
            return
        depth, quote, escape = 0, "", False
        for i in range(begin, len(text)):
            ch = text[i]
            if quote:
                if escape:
                    escape = False
                elif ch == "\\":
                    escape = True
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    yield text[begin : i + 1]
                    break
        start = begin + 1


def loads_lenient(span: str) -> Any:
    """Strict JSON, then JSON without trailing commas, then a Python literal (single quotes)."""
    for attempt in (span, TRAILING_COMMA.sub(r"\1", span)):
        try:
            return json.loads(attempt)
        except ValueError:
            continue
    python = BARE_WORD.sub(lambda m: PY_LITERALS[m.group(1)], TRAILING_COMMA.sub(r"\1", span))
    try:
        return ast.literal_eval(python)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object found in a model's answer, or None."""
    sources = [m.group(1) for m in FENCE.finditer(text)] + [text]
    for source in sources:
        for span in balanced_objects(source):
            value = loads_lenient(span)
            if isinstance(value, dict):
                return value
    return None


def parse_json_list(text: str) -> list[Any] | None:
    """The first JSON array in an answer (for lists of generated instructions), or None."""
    sources = [m.group(1) for m in FENCE.finditer(text)] + [text]
    for source in sources:
        begin = source.find("[")
        end = source.rfind("]")
        if 0 <= begin < end:
            value = loads_lenient(source[begin : end + 1])
            if isinstance(value, list):
                return value
    return None


NUMBER = r"(-?\d+(?:\.\d+)?)"


def labelled_number(text: str, label: str) -> float | None:
    """`Label: 4`, `**Label** - 4/5`, `label = 4` anywhere in the text (case-insensitive)."""
    words = r"[\s_\-]*".join(re.escape(w) for w in re.split(r"[\s_\-]+", label.strip()) if w)
    pattern = re.compile(rf"{words}\**\s*[:=\-–]?\s*\**\s*{NUMBER}(?:\s*/\s*\d+)?", re.IGNORECASE)
    match = pattern.search(text)
    return float(match.group(1)) if match else None


def fallback_scores(text: str, criteria: Sequence[str]) -> dict[str, float]:
    """Per-criterion numbers from free text; a lone `Score: N` applies to every criterion."""
    found = {name: value for name in criteria if (value := labelled_number(text, name)) is not None}
    if found:
        return found
    overall = labelled_number(text, "overall score") or labelled_number(text, "score")
    if overall is None:
        overall = labelled_number(text, "rating")
    return dict.fromkeys(criteria, overall) if overall is not None else {}
