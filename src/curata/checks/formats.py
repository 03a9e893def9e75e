"""What shape an answer has: JSON, code, a list, a single label word, or prose.

Used by the `formats` stage to learn a dataset's dominant output format and flag answers that
break it; cheap (a few string tests per answer) because it runs over every record.
"""

from __future__ import annotations

import re

import orjson

from curata.checks.text import FENCE

OUTPUT_FORMATS = ("empty", "json", "code", "list", "label", "short", "prose")
LIST_LINE = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+\S", re.MULTILINE)
LABEL = re.compile(r"^[\w\-’' ]{1,40}[.!]?$")
ASKS_JSON = re.compile(
    r"\b(?:in|as|return|output|respond with|reply with|format(?:ted)? as)\s+(?:an?\s+)?(?:valid\s+)?json\b",
    re.IGNORECASE,
)


def output_format(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        return "empty"
    if stripped[0] in "{[" and stripped[-1] in "}]":
        try:
            orjson.loads(stripped)
            return "json"
        except orjson.JSONDecodeError:
            pass
    if FENCE.search(stripped):
        return "code"
    lines = [line for line in stripped.splitlines() if line.strip()]
    if len(lines) >= 2 and len(LIST_LINE.findall(stripped)) >= max(2, len(lines) // 2):
        return "list"
    n_words = len(stripped.split())
    if n_words <= 3 and LABEL.match(stripped):
        return "label"
    if n_words <= 12:
        return "short"
    return "prose"


def template_key(prompt: str, n_words: int = 5) -> str:
    """Prompts sharing their first words usually share a task (and an expected answer format)."""
    return " ".join(prompt.lower().split()[:n_words])
