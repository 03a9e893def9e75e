"""Tolerant reading of judge replies."""

from __future__ import annotations

import pytest

from curata.llm.judge import parse_winner
from curata.llm.parsing import parse_json_list, parse_json_object
from curata.llm.rubric import DEFAULT_RUBRIC, Rubric, parse_verdict

FULL = '{"helpfulness": 4, "correctness": 5, "instruction_following": 3, "clarity": 4, "rationale": "ok"}'


@pytest.mark.parametrize(
    "reply",
    [
        FULL,
        f"```json\n{FULL}\n```",
        f"Sure! Here is the evaluation:\n{FULL}\nLet me know if you need more.",
        FULL.replace('"', "'"),
        FULL.replace("}", ",}"),
        '{"Helpfulness": "4/5", "Correctness": 5, "Instruction following": 3, "clarity": "4"}',
        "**Helpfulness**: 4\n**Correctness**: 5\nInstruction following - 3/5\nClarity = 4",
    ],
)
def test_verdicts_are_read_from_the_shapes_models_produce(reply: str) -> None:
    verdict = parse_verdict(DEFAULT_RUBRIC, reply)
    assert verdict is not None
    assert verdict.scores == {"helpfulness": 4, "correctness": 5, "instruction_following": 3, "clarity": 4}


def test_a_lone_score_applies_to_every_criterion() -> None:
    verdict = parse_verdict(DEFAULT_RUBRIC, "I'd say this is decent.\nScore: 3")
    assert verdict is not None and set(verdict.scores.values()) == {3}
    assert DEFAULT_RUBRIC.normalised(verdict.scores) == 0.5


@pytest.mark.parametrize(
    "reply",
    ["Great answer!", "", '{"helpfulness": 4}', '{"helpfulness": 9, "correctness": 5, '
     '"instruction_following": 3, "clarity": 4}', "{not json at all"],
)  # fmt: skip
def test_unreadable_or_off_scale_replies_are_none(reply: str) -> None:
    assert parse_verdict(DEFAULT_RUBRIC, reply) is None


def test_braces_inside_strings_do_not_confuse_the_scanner() -> None:
    assert parse_json_object('note {"a": "x } y", "b": 2} tail') == {"a": "x } y", "b": 2}
    assert parse_json_object("{'a': true, 'b': null}") == {"a": True, "b": None}


def test_lists_and_winners() -> None:
    assert parse_json_list('Here:\n```json\n["one", "two",]\n```') == ["one", "two"]
    assert parse_winner('{"winner": "B", "rationale": "..."}') == "B"
    assert parse_winner("After careful thought, the better answer is [[A]].") == "A"
    assert parse_winner('{"winner": "tie"}') == "tie"
    assert parse_winner("both are fine") is None


def test_user_rubrics_validate_their_criteria() -> None:
    rubric = Rubric.model_validate(
        {"criteria": [{"name": "safety", "description": "no harm"}], "scale_min": 0, "scale_max": 10}
    )
    verdict = parse_verdict(rubric, '{"safety": 7}')
    assert verdict is not None and rubric.normalised(verdict.scores) == pytest.approx(0.7)
    with pytest.raises(ValueError):
        Rubric.model_validate({"criteria": [{"name": "Bad Name", "description": "x"}]})
