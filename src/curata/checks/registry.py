"""The check registry: every check code, its defaults, and how to build it.

A per-record check is a function `(record, settings) -> Score | None` or a class built once per
worker with its settings and then called per record (for checks with an index or a model). It is
registered with `@record_check`, which is the public way for users to add their own checks:

    from curata.checks import Score, record_check

    @record_check("shouting", description="the answer is mostly capital letters", action="flag")
    def shouting(record, settings):
        text = record.last_response
        letters = [c for c in text if c.isalpha()]
        share = sum(c.isupper() for c in letters) / max(len(letters), 1)
        return Score(share, f"{share:.0%} capital letters") if len(letters) > 20 else None

A class check may also define `prepare(records)`: the checks stage calls it with each batch of
records before calling the check on them one by one, so work that is cheaper done for many records
at once (a model over a whole batch) is done once per batch; the per-record calls must give the
same results with or without it.

The check's score (0-1 severity, 0 when it returns None) goes to `signals.parquet` as a column
named after the code; the record is flagged when the score reaches the check's threshold, and the
recipe says whether a flag drops the record or only reports it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict

from curata.records import Record

Action = Literal["drop", "flag", "ignore"]
ACTIONS: tuple[Action, ...] = ("drop", "flag", "ignore")


@dataclass(frozen=True, slots=True)
class Score:
    """What a check says about one record: a 0-1 severity, why, and optionally which turn and
    which other records it concerns."""

    value: float
    message: str
    turn: int | None = None
    related: tuple[str, ...] = ()


class NoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordCheck(Protocol):
    def __call__(self, record: Record) -> Score | None: ...


@dataclass(frozen=True)
class CheckInfo:
    """A registered check code with its defaults; `build` is None for codes that a dataset-level
    stage produces (duplicates, label errors) rather than a per-record function."""

    code: str
    description: str
    default_action: Action
    default_threshold: float
    settings_model: type[BaseModel]
    build: Callable[[BaseModel], RecordCheck] | None = None
    dataset_level: bool = False


CHECKS: dict[str, CheckInfo] = {}


def register(info: CheckInfo) -> CheckInfo:
    existing = CHECKS.get(info.code)
    if existing is not None and existing.build is not info.build and existing.build is not None:
        raise ValueError(f"check code '{info.code}' is already registered")
    CHECKS[info.code] = info
    return info


def record_check(
    code: str,
    *,
    description: str,
    action: Action = "flag",
    threshold: float = 0.5,
    settings: type[BaseModel] = NoSettings,
) -> Callable[[Any], Any]:
    """Register a per-record check (a function or a class); see the module docstring."""

    def decorate(target: Any) -> Any:
        build: Callable[[BaseModel], RecordCheck]
        if inspect.isclass(target):
            build = cast(Callable[[BaseModel], RecordCheck], target)
        else:

            def build(config: BaseModel) -> RecordCheck:
                return lambda record: target(record, config)

        register(CheckInfo(code, description, action, threshold, settings, build))
        return target

    return decorate


def declare_check(code: str, *, description: str, action: Action = "flag", threshold: float = 0.5) -> None:
    """Declare a code produced by a dataset-level stage, so recipes can refer to it."""
    if code not in CHECKS:
        register(CheckInfo(code, description, action, threshold, NoSettings, None, dataset_level=True))
