"""OpenAI chat messages: `messages` of `{role, content}`, optional `label` (e.g. KTO)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from curata.errors import FieldError
from curata.formats.base import Obj, RecordFormat, content_text, label_value, list_field
from curata.records import Role, Turn

MESSAGE_ROLES: dict[str, Role] = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}


def message_turn(item: Any, where: str) -> Turn:
    if not isinstance(item, Mapping):
        raise FieldError(where, f"expected an object with 'role' and 'content', got {type(item).__name__}")
    role = item.get("role")
    if not isinstance(role, str) or role.lower() not in MESSAGE_ROLES:
        raise FieldError(f"{where}.role", f"unknown role {role!r}")
    content = content_text(item.get("content"), f"{where}.content")
    if not content and item.get("tool_calls"):
        # An assistant turn that only calls tools: its calls are its content.
        content = orjson.dumps(item["tool_calls"], default=str).decode()
    return Turn(MESSAGE_ROLES[role.lower()], content)


class Messages(RecordFormat):
    name = "messages"
    description = "messages: [{role, content}] (OpenAI chat), optional label"
    consumed = frozenset({"messages", "label"})
    priority = 10

    @classmethod
    def matches(cls, obj: Obj) -> bool:
        return isinstance(obj.get("messages"), list)

    @classmethod
    def parse(cls, obj: Obj) -> tuple[list[Turn], str | None]:
        turns = [message_turn(item, f"messages[{i}]") for i, item in enumerate(list_field(obj, "messages"))]
        return turns, label_value(obj)

    @classmethod
    def render(cls, turns: Sequence[Turn], label: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"messages": [{"role": str(t.role), "content": t.content} for t in turns]}
        if label is not None:
            out["label"] = label
        return out
