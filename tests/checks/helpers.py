"""Build records and run a registered check on them, the way the `checks` stage does."""

from __future__ import annotations

from typing import Any

from curata.checks.registry import CHECKS, Score
from curata.records import Record, Role, Turn


def chat(prompt: str, answer: str, *, fmt: str = "alpaca", rid: str = "r") -> Record:
    return Record(rid, (Turn(Role.USER, prompt), Turn(Role.ASSISTANT, answer)), format=fmt)


def run_check(code: str, record: Record, **settings: Any) -> Score | None:
    info = CHECKS[code]
    assert info.build is not None
    return info.build(info.settings_model.model_validate(settings))(record)


def flagged(code: str, record: Record, **settings: Any) -> bool:
    """Whether the check reaches its default threshold on this record."""
    result = run_check(code, record, **settings)
    return result is not None and result.value >= CHECKS[code].default_threshold
