"""Judging by token probabilities (G-Eval style), for models that cannot be trusted to write JSON.

For each rubric criterion the model is asked for that one score and its answer is begun for it
("Score:"); the next-token probabilities of the scale's digits give an expected score (the
probability-weighted mean, which separates records that all have the same most likely digit) and
the most likely digit. No free-form reply is parsed, so every record the model reads is scored.
Needs a scale whose points are single digits and the in-process backend (which can read logits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from curata.llm.request import ChatRequest
from curata.llm.rubric import Criterion, Rubric, guidance_and_conversation
from curata.records import Record

PROMPT_ID = "judge-geval-v1"
SYSTEM = (
    "You are a strict, fair evaluator of training data for AI assistants. You judge the assistant's "
    "last answer in a conversation and answer with a single digit."
)
PREFIX = "Score:"


def supports(rubric: Rubric) -> bool:
    """Digits only: a two-digit score would need more than one next token."""
    return rubric.scale_min >= 0 and rubric.scale_max <= 9


def choices(rubric: Rubric) -> tuple[str, ...]:
    return tuple(str(v) for v in range(rubric.scale_min, rubric.scale_max + 1))


def criterion_messages(rubric: Rubric, record: Record, criterion: Criterion) -> list[dict[str, str]]:
    guidance, conversation = guidance_and_conversation(rubric, record)
    user = (
        f"{guidance}The conversation:\n\n{conversation}\n\n"
        f"Rate the assistant's last answer for {criterion.name.replace('_', ' ')} ({criterion.description}) "
        f"as a whole number from {rubric.scale_min} (very poor) to {rubric.scale_max} (excellent). "
        "Reply with the digit only."
    )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user},
        {"role": "assistant", "content": PREFIX},
    ]


def criterion_request(rubric: Rubric, record: Record, criterion: Criterion) -> ChatRequest:
    return ChatRequest.of(
        criterion_messages(rubric, record, criterion), max_tokens=1, tag="geval", choices=choices(rubric)
    )


@dataclass(frozen=True)
class DigitScore:
    """One criterion: the expected score, the most likely digit, and how much probability the
    scale's digits had in all (low mass: the model wanted to say something else)."""

    expected: float
    argmax: int
    mass: float


def read_probabilities(rubric: Rubric, text: str) -> DigitScore | None:
    """The score from a backend's `{"probabilities": {digit: p}}` answer; None when unusable."""
    try:
        found = json.loads(text)["probabilities"]
        probs = {int(k): float(v) for k, v in found.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    mass = sum(probs.values())
    if not probs or mass <= 0 or any(not rubric.scale_min <= k <= rubric.scale_max for k in probs):
        return None
    expected = sum(k * p for k, p in probs.items()) / mass
    argmax = max(sorted(probs), key=lambda k: probs[k])
    return DigitScore(expected, argmax, mass)
