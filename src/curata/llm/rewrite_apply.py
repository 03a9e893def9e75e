"""A verified rewrite applied to a record on its way out, through the same path as a reviewer's
edit (`Correction.apply`): only the fields holding the answer change, in the record's own format,
and every other field travels untouched."""

from __future__ import annotations

from typing import Any

from curata.formats import get_format
from curata.jsonio import dump_json, loads_exact
from curata.records import Role, Turn
from curata.review.loop import Correction

REWRITE_COLUMN = "rewrite_response"


def with_rewrite(
    raw: str, format_name: str, turns: list[dict[str, str]], label: str | None, rewritten: str | None
) -> tuple[str, list[dict[str, str]]]:
    """The record's raw JSON and turns with the last answer replaced (unchanged when None)."""
    if rewritten is None:
        return raw, turns
    obj: dict[str, Any] = loads_exact(raw)
    parsed = [Turn(Role(t["role"]), t["content"]) for t in turns]
    new_turns, _, new_obj = Correction(rewritten, None).apply(get_format(format_name), parsed, label, obj)
    return dump_json(new_obj), [{"role": str(t.role), "content": t.content} for t in new_turns]
