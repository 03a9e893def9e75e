"""Stage registry: recipe names to stage classes."""

from __future__ import annotations

from typing import TypeVar

from curata.stages.base import Stage

STAGES: dict[str, type[Stage]] = {}

S = TypeVar("S", bound=type[Stage])


def register_stage(cls: S) -> S:
    if cls.name in STAGES and STAGES[cls.name] is not cls:
        raise ValueError(f"stage '{cls.name}' is already registered")
    STAGES[cls.name] = cls
    return cls
