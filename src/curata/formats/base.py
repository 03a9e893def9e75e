"""What a record format is: how to recognise it, read its fields into turns, and write them back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson

from curata.errors import FieldError
from curata.records import Role, Turn

Obj = Mapping[str, Any]


class RecordFormat(ABC):
    """One record format. `consumed` lists the fields it maps to turns and label; every other field
    of a record travels untouched through conversion to another format."""

    name: ClassVar[str]
    description: ClassVar[str]
    consumed: ClassVar[frozenset[str]]
    # Lower wins when a record matches several formats (e.g. messages with a stray `text` field).
    priority: ClassVar[int]

    @classmethod
    @abstractmethod
    def matches(cls, obj: Obj) -> bool:
        """True when the object has this format's required fields."""

    @classmethod
    @abstractmethod
    def parse(cls, obj: Obj) -> tuple[list[Turn], str | None]:
        """Turns and label of one record; raises FieldError naming the offending field."""

    @classmethod
    @abstractmethod
    def render(cls, turns: Sequence[Turn], label: str | None) -> dict[str, Any]:
        """This format's own fields for the given turns and label."""


def text_field(obj: Obj, name: str, *, required: bool = True) -> str:
    """A string field; null or absent is '' when optional, an error when required."""
    value = obj.get(name)
    if value is None:
        if required:
            raise FieldError(name, "missing" if name not in obj else "is null, expected a string")
        return ""
    if not isinstance(value, str):
        raise FieldError(name, f"expected a string, got {type(value).__name__}")
    return value


def list_field(obj: Obj, name: str) -> list[Any]:
    value = obj.get(name)
    if value is None:
        raise FieldError(name, "missing" if name not in obj else "is null, expected a list")
    if not isinstance(value, list):
        raise FieldError(name, f"expected a list, got {type(value).__name__}")
    return value


def label_value(obj: Obj, name: str = "label") -> str | None:
    """Labels are kept as text: `true`/`false` for booleans, digits for integers."""
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise FieldError(name, f"expected a string, integer or boolean label, got {type(value).__name__}")


def content_text(value: Any, where: str) -> str:
    """Message content: a string, a list of OpenAI content parts (text parts joined), or null."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts: list[str] = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                parts.append(orjson.dumps(part, default=str).decode())
        return "\n".join(parts)
    if isinstance(value, Mapping):
        return orjson.dumps(value, default=str).decode()
    raise FieldError(where, f"expected text content, got {type(value).__name__}")


def single_exchange(
    turns: Sequence[Turn],
) -> tuple[str, str, str, list[tuple[str, str]]]:
    """Fold a conversation into (system, last prompt, last answer, earlier user/assistant pairs).

    Formats with one instruction and one answer keep earlier exchanges as history; tool turns are
    folded into the user side, since such formats have no place for them.
    """
    system = "\n\n".join(t.content for t in turns if t.role is Role.SYSTEM)
    pairs: list[tuple[str, str]] = []
    pending_user: list[str] = []
    pending_answer: list[str] = []
    for turn in turns:
        if turn.role is Role.SYSTEM:
            continue
        if turn.role is Role.ASSISTANT:
            pending_answer.append(turn.content)
            continue
        if pending_answer:
            pairs.append(("\n\n".join(pending_user), "\n\n".join(pending_answer)))
            pending_user, pending_answer = [], []
        pending_user.append(turn.content)
    if pending_user or pending_answer:
        pairs.append(("\n\n".join(pending_user), "\n\n".join(pending_answer)))
    if not pairs:
        return system, "", "", []
    prompt, answer = pairs[-1]
    return system, prompt, answer, pairs[:-1]
