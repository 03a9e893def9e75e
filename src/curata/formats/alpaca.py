"""Alpaca: `instruction`, optional `input`, `output`; LLaMA-Factory's `system` and `history` too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curata.errors import FieldError
from curata.formats.base import Obj, RecordFormat, label_value, single_exchange, text_field
from curata.records import Role, Turn


def prompt_with_input(instruction: str, extra: str) -> str:
    return f"{instruction}\n\n{extra}" if extra else instruction


class Alpaca(RecordFormat):
    name = "alpaca"
    description = "instruction, input, output (+ optional system, history)"
    consumed = frozenset({"label", "instruction", "input", "output", "system", "history"})
    priority = 30

    @classmethod
    def matches(cls, obj: Obj) -> bool:
        return "instruction" in obj and "output" in obj

    @classmethod
    def parse(cls, obj: Obj) -> tuple[list[Turn], str | None]:
        turns: list[Turn] = []
        system = text_field(obj, "system", required=False)
        if system:
            turns.append(Turn(Role.SYSTEM, system))
        for i, pair in enumerate(obj.get("history") or []):
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(x, str) for x in pair)
            ):
                raise FieldError(f"history[{i}]", "expected a [user, assistant] pair of strings")
            turns += [Turn(Role.USER, pair[0]), Turn(Role.ASSISTANT, pair[1])]
        prompt = prompt_with_input(text_field(obj, "instruction"), text_field(obj, "input", required=False))
        turns += [Turn(Role.USER, prompt), Turn(Role.ASSISTANT, text_field(obj, "output"))]
        return turns, label_value(obj)

    @classmethod
    def render(cls, turns: Sequence[Turn], label: str | None) -> dict[str, Any]:
        system, prompt, answer, history = single_exchange(turns)
        out: dict[str, Any] = {"instruction": prompt, "input": "", "output": answer}
        if system:
            out["system"] = system
        if history:
            out["history"] = [list(pair) for pair in history]
        return out
