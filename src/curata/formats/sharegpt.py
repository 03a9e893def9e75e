"""ShareGPT: `conversations` of `{from, value}`; LLaMA-Factory's `system`, tool and preference variants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from curata.errors import FieldError
from curata.formats.base import Obj, RecordFormat, content_text, label_value, list_field, text_field
from curata.records import Role, Turn

SPEAKER_ROLES: dict[str, Role] = {
    "system": Role.SYSTEM,
    "human": Role.USER,
    "user": Role.USER,
    "gpt": Role.ASSISTANT,
    "assistant": Role.ASSISTANT,
    "chatgpt": Role.ASSISTANT,
    "bard": Role.ASSISTANT,
    "bing": Role.ASSISTANT,
    "model": Role.ASSISTANT,
    "function_call": Role.ASSISTANT,
    "observation": Role.TOOL,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}
ROLE_SPEAKERS = {Role.SYSTEM: "system", Role.USER: "human", Role.ASSISTANT: "gpt", Role.TOOL: "observation"}


def speaker_turn(item: Any, where: str) -> Turn:
    if not isinstance(item, Mapping):
        raise FieldError(where, f"expected an object with 'from' and 'value', got {type(item).__name__}")
    speaker = item.get("from")
    if not isinstance(speaker, str) or speaker.lower() not in SPEAKER_ROLES:
        raise FieldError(f"{where}.from", f"unknown speaker {speaker!r}")
    return Turn(SPEAKER_ROLES[speaker.lower()], content_text(item.get("value"), f"{where}.value"))


class ShareGPT(RecordFormat):
    name = "sharegpt"
    description = "conversations: [{from, value}] (+ optional system; chosen/rejected preference pairs)"
    # A preference pair's `chosen` answer is read as the assistant turn; `rejected` travels untouched.
    consumed = frozenset({"conversations", "system", "chosen", "label"})
    priority = 20

    @classmethod
    def matches(cls, obj: Obj) -> bool:
        return isinstance(obj.get("conversations"), list)

    @classmethod
    def parse(cls, obj: Obj) -> tuple[list[Turn], str | None]:
        turns: list[Turn] = []
        system = text_field(obj, "system", required=False)
        if system:
            turns.append(Turn(Role.SYSTEM, system))
        for i, item in enumerate(list_field(obj, "conversations")):
            turns.append(speaker_turn(item, f"conversations[{i}]"))
        chosen = obj.get("chosen")
        if isinstance(chosen, Mapping) and "value" in chosen:
            turns.append(Turn(Role.ASSISTANT, content_text(chosen.get("value"), "chosen.value")))
        return turns, label_value(obj)

    @classmethod
    def render(cls, turns: Sequence[Turn], label: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "conversations": [{"from": ROLE_SPEAKERS[t.role], "value": t.content} for t in turns]
        }
        if label is not None:
            out["label"] = label
        return out
