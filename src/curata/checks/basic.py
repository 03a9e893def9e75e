"""The first per-record check: an answer that is empty or only whitespace."""

from __future__ import annotations

from curata.checks.registry import Score, record_check
from curata.records import Record, Role


@record_check(
    "empty_response",
    description="the answer is empty or whitespace",
    action="drop",
)
def empty_response(record: Record, settings: object) -> Score | None:
    if record.format == "text_label":
        return None
    answers = [i for i, t in enumerate(record.turns) if t.role is Role.ASSISTANT]
    if not answers:
        return Score(1.0, "the conversation has no assistant turn")
    for index in answers:
        if not record.turns[index].content.strip():
            return Score(1.0, f"assistant turn {index} is empty", turn=index)
    return None
