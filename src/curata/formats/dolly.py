"""Dolly: `instruction`, optional `context` (or `input`), `response`, optional `category`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curata.formats.alpaca import prompt_with_input
from curata.formats.base import Obj, RecordFormat, label_value, single_exchange, text_field
from curata.records import Role, Turn


class Dolly(RecordFormat):
    name = "dolly"
    description = "instruction, context, response, category"
    # `category` is the task type, not a class label: it travels as an ordinary field.
    consumed = frozenset({"label", "instruction", "context", "input", "response", "system"})
    priority = 40

    @classmethod
    def matches(cls, obj: Obj) -> bool:
        return "instruction" in obj and "response" in obj

    @classmethod
    def parse(cls, obj: Obj) -> tuple[list[Turn], str | None]:
        turns: list[Turn] = []
        system = text_field(obj, "system", required=False)
        if system:
            turns.append(Turn(Role.SYSTEM, system))
        context_field = "context" if "context" in obj else "input"
        prompt = prompt_with_input(
            text_field(obj, "instruction"), text_field(obj, context_field, required=False)
        )
        turns += [Turn(Role.USER, prompt), Turn(Role.ASSISTANT, text_field(obj, "response"))]
        return turns, label_value(obj)

    @classmethod
    def render(cls, turns: Sequence[Turn], label: str | None) -> dict[str, Any]:
        system, prompt, answer, history = single_exchange(turns)
        if history:
            earlier = "\n\n".join(f"User: {q}\n\nAssistant: {a}" for q, a in history)
            prompt = f"{earlier}\n\nUser: {prompt}"
        out: dict[str, Any] = {"instruction": prompt, "context": "", "response": answer}
        if system:
            out["system"] = system
        return out
