"""Labelled text for classification: `text`, `label`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curata.formats.base import Obj, RecordFormat, label_value, text_field
from curata.records import Role, Turn, join_turns


class TextLabel(RecordFormat):
    name = "text_label"
    description = "text, label (classification)"
    consumed = frozenset({"text", "label"})
    priority = 60

    @classmethod
    def matches(cls, obj: Obj) -> bool:
        return "text" in obj and "label" in obj

    @classmethod
    def parse(cls, obj: Obj) -> tuple[list[Turn], str | None]:
        return [Turn(Role.USER, text_field(obj, "text"))], label_value(obj)

    @classmethod
    def render(cls, turns: Sequence[Turn], label: str | None) -> dict[str, Any]:
        return {"text": join_turns(t for t in turns if t.role is not Role.ASSISTANT), "label": label}
