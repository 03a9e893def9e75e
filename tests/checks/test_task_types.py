"""The task-type classifier's ASCII fast path gives the case-insensitive rules' answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curata.checks.task_types import LEADING_NOISE, TASK_RULES, task_type

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def reference(instruction: str) -> str:
    """The rules as written (IGNORECASE on the original text), without the fast path."""
    text = instruction.strip()
    head = LEADING_NOISE.sub("", text[:300].lower()).strip()
    for name, pattern in TASK_RULES:
        if pattern.search(text[:2000] if name in ("code", "math") else head):
            return name
    return "other"


def real_instructions() -> list[str]:
    rows = [json.loads(line) for line in (REAL / "gsm8k_first1500.jsonl").read_text().splitlines()]
    lima = json.loads((REAL / "lima.json").read_text())
    texts = [r["instruction"] for r in rows] + [r["instruction"] for r in lima if "instruction" in r]
    texts += [turn["value"] for r in lima for turn in r.get("conversations", []) if isinstance(turn, dict)]
    return texts


def test_fast_path_agrees_with_the_rules_on_real_instructions() -> None:
    texts = real_instructions()
    assert len(texts) > 1500 and sum(t.isascii() for t in texts) > 1000
    types = [task_type(t) for t in texts]
    assert types == [reference(t) for t in texts]
    assert {"math", "qa"} <= set(types)


@pytest.mark.parametrize(
    "instruction",
    [
        "PLEASE Classify this review: great!",
        "Write a Python FUNCTION that adds 2+2",
        "ſummarize this article",  # long s: folds to 's' only case-insensitively
        "What is 3 K in Celsius? \u212a",  # Kelvin sign
        "Kindly REWRITE the following",
        "Translate 'ſtraße' into English",
        "   ",
        "Is this true or false?",
    ],
)
def test_fast_path_agrees_with_the_rules_on_edge_cases(instruction: str) -> None:
    assert task_type(instruction) == reference(instruction)
