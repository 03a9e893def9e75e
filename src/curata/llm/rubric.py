"""Judge rubrics: the criteria, their scale, the prompt that asks for them and the reading of the
answer. The default rubric is for instruction data; a recipe can give its own."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from curata.llm.parsing import fallback_scores, parse_json_object
from curata.records import Record, Role, Turn

PROMPT_ID = "judge-rubric-v1"
REPAIR_PROMPT_ID = "judge-repair-v1"
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str

    @field_validator("name")
    @classmethod
    def identifier(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError(f"criterion name '{value}' must be lower-case letters, digits and '_'")
        return value


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "instruction-default"
    criteria: list[Criterion] = Field(min_length=1)
    scale_min: int = 1
    scale_max: int = 5
    # Extra guidance for the judge, placed before the criteria.
    instructions: str = ""

    @model_validator(mode="after")
    def sane(self) -> Rubric:
        if self.scale_max <= self.scale_min:
            raise ValueError("scale_max must be above scale_min")
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be unique")
        if "rationale" in names or "score" in names:
            raise ValueError("'rationale' and 'score' are reserved names")
        return self

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.criteria]

    def normalised(self, scores: dict[str, float]) -> float:
        """The mean score mapped to [0, 1]: scale_min is 0, scale_max is 1."""
        span = self.scale_max - self.scale_min
        values = [(scores[n] - self.scale_min) / span for n in self.names]
        return float(sum(values) / len(values))


DEFAULT_RUBRIC = Rubric(
    criteria=[
        Criterion(
            name="helpfulness", description="does the answer meet the user's need, fully and usefully?"
        ),
        Criterion(
            name="correctness", description="is everything stated true, and is any code or maths right?"
        ),
        Criterion(
            name="instruction_following",
            description="does it do what was asked, in the form asked (length, format, constraints)?",
        ),
        Criterion(name="clarity", description="is it well organised, easy to read and free of filler?"),
    ]
)

SYSTEM = (
    "You are a strict, fair evaluator of training data for AI assistants. You judge the assistant's "
    "last answer in a conversation. You reply with one JSON object and nothing else."
)
MAX_TURN_CHARS = 8000


def render_conversation(turns: Sequence[Turn]) -> str:
    parts = []
    for turn in turns:
        text = turn.content
        if len(text) > MAX_TURN_CHARS:
            text = text[:MAX_TURN_CHARS] + " [...]"
        parts.append(f"### {turn.role.value.upper()}\n{text}")
    return "\n\n".join(parts)


def json_template(rubric: Rubric) -> str:
    scale = f"<{rubric.scale_min}-{rubric.scale_max}>"
    fields = ", ".join(f'"{n}": {scale}' for n in rubric.names)
    return "{" + fields + ', "rationale": "<one or two sentences>"}'


def guidance_and_conversation(rubric: Rubric, record: Record) -> tuple[str, str]:
    """The rubric's own instructions (with a blank line after, or empty) and the record as text."""
    guidance = f"{rubric.instructions.strip()}\n\n" if rubric.instructions.strip() else ""
    return guidance, render_conversation(record.turns or (Turn(Role.USER, ""),))


def judge_messages(rubric: Rubric, record: Record) -> list[dict[str, str]]:
    criteria = "\n".join(f"- {c.name}: {c.description}" for c in rubric.criteria)
    guidance, conversation = guidance_and_conversation(rubric, record)
    user = (
        f"{guidance}Rate the assistant's last answer on each criterion, as a whole number from "
        f"{rubric.scale_min} (very poor) to {rubric.scale_max} (excellent):\n{criteria}\n\n"
        f"Reply with only this JSON object:\n{json_template(rubric)}\n\n"
        f"The conversation:\n\n{conversation}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def repair_messages(rubric: Rubric, original: list[dict[str, str]], reply: str) -> list[dict[str, str]]:
    """Ask once more, showing the unreadable reply, for the bare JSON object."""
    return [
        *original,
        {"role": "assistant", "content": reply[:2000]},
        {
            "role": "user",
            "content": "Your reply could not be read. Reply again with only the JSON object, no other "
            f"text:\n{json_template(rubric)}",
        },
    ]


@dataclass(frozen=True)
class Verdict:
    scores: dict[str, float]
    rationale: str


def as_score(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        match = re.search(r"-?\d+(?:\.\d+)?", value)
        if match is None:
            return None
        number = float(match.group())
    else:
        return None
    return number if math.isfinite(number) else None


def parse_verdict(rubric: Rubric, text: str) -> Verdict | None:
    """Every criterion's score from an answer, or None when any is missing or off the scale."""
    obj = parse_json_object(text)
    scores: dict[str, float] = {}
    rationale = ""
    if obj is not None:
        lowered = {str(k).lower().strip().replace(" ", "_"): v for k, v in obj.items()}
        for name in rubric.names:
            value = as_score(lowered.get(name))
            if value is not None:
                scores[name] = value
        if not scores and (overall := as_score(lowered.get("score"))) is not None:
            scores = dict.fromkeys(rubric.names, overall)
        rationale = str(lowered.get("rationale") or lowered.get("reason") or lowered.get("explanation") or "")
    if len(scores) < len(rubric.names):
        found = fallback_scores(text, rubric.names)
        scores = {**found, **scores}
    if len(scores) < len(rubric.names):
        return None
    if any(not rubric.scale_min <= v <= rubric.scale_max for v in scores.values()):
        return None
    return Verdict(scores, rationale.strip())
