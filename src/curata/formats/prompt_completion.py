"""Prompt/completion pairs: `prompt`, `completion`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curata.formats.base import Obj, RecordFormat, label_value, single_exchange, text_field
from curata.records import Role, Turn


class PromptCompletion(RecordFormat):
    name = "prompt_completion"
    description = "prompt, completion"
    consumed = frozenset({"label", "prompt", "completion"})
    priority = 50

    @classmethod
    def matches(cls, obj: Obj) -> bool:
        return "prompt" in obj and "completion" in obj

    @classmethod
    def parse(cls, obj: Obj) -> tuple[list[Turn], str | None]:
        return [
            Turn(Role.USER, text_field(obj, "prompt")),
            Turn(Role.ASSISTANT, text_field(obj, "completion")),
        ], label_value(obj)

    @classmethod
    def render(cls, turns: Sequence[Turn], label: str | None) -> dict[str, Any]:
        system, prompt, answer, history = single_exchange(turns)
        context = [system] if system else []
        context += [f"{q}\n\n{a}" for q, a in history]
        return {"prompt": "\n\n".join([*context, prompt]), "completion": answer}
