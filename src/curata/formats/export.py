"""Writing a record back out: in its own format (its original JSON, plus its id), or converted to
another format with every field the conversion does not consume carried along untouched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curata.formats import get_format
from curata.jsonio import loads_exact
from curata.records import Role, Turn


def with_id(obj: dict[str, Any], rid: str) -> dict[str, Any]:
    """The contract puts an `id` on every output record; a record that had one keeps its own."""
    return obj if "id" in obj else {"id": rid, **obj}


def export_record(
    raw: str,
    rid: str,
    source_format: str,
    turns: Sequence[dict[str, str]],
    label: str | None,
    target_format: str | None,
) -> dict[str, Any]:
    obj: dict[str, Any] = loads_exact(raw)
    if target_format is None or target_format == source_format:
        return with_id(obj, rid)
    source = get_format(source_format)
    target = get_format(target_format)
    fields = target.render([Turn(Role(t["role"]), t["content"]) for t in turns], label)
    if label is not None and "label" not in fields:
        fields["label"] = label
    extras = {k: v for k, v in obj.items() if k not in source.consumed and k != "id"}
    clashing = {k: extras.pop(k) for k in list(extras) if k in fields}
    out: dict[str, Any] = {"id": obj.get("id", rid), **fields, **extras}
    if clashing:
        out["_extra"] = clashing
    return out
