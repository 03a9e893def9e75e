"""The quality formula: bounded, monotone in check severities and in the judge score, and
separating weak answers from good ones without any model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curata.checks.columns import score_column
from curata.records import TURN_TYPE
from curata.stages.quality import Quality, QualitySettings

PROMPT = "Explain why the sky is blue during the day and red at sunset."
GOOD = (
    "Sunlight is scattered by the molecules of the air, and blue light, with its short wavelength, is "
    "scattered far more than red (Rayleigh scattering), so the daytime sky looks blue. At sunset the light "
    "crosses much more air before it reaches you; most blue is scattered away, leaving the red and orange."
)
OFF_TOPIC = (
    "Ooh ooh! *giggle* I love colours! *bounce bounce* Colours are so pretty!!! Yay yay yay! "
    "Let me think... *drumroll* Pretty pretty pretty!!! *clap*"
)


def batch(answers: list[str], **columns: list[float]) -> pa.Table:
    turns = [[{"role": "user", "content": PROMPT}, {"role": "assistant", "content": a}] for a in answers]
    data: dict[str, pa.Array] = {"turns": pa.array(turns, pa.list_(TURN_TYPE))}
    for name, values in columns.items():
        data[name] = pa.array(values, pa.float32())
    return pa.table(data)


def quality_of(table: pa.Table, codes: tuple[str, ...] = (), **settings: object) -> np.ndarray:
    stage = Quality(QualitySettings.model_validate(settings))
    stage.bind({name: table.schema.field(name).type for name in table.column_names}, codes)
    out = stage.process(table)
    return np.asarray(out["quality"].to_numpy(zero_copy_only=False))


def test_quality_separates_a_relevant_answer_from_noisy_filler() -> None:
    good, bad = quality_of(batch([GOOD, OFF_TOPIC]))
    assert 0.0 <= bad < good <= 1.0
    assert good - bad > 0.3


@pytest.mark.parametrize("code", ["refusal", "truncated_response", "repetition"])
def test_quality_never_rises_with_a_check_severity(code: str) -> None:
    severities = [0.0, 0.2, 0.5, 0.8, 1.0]
    table = batch([GOOD] * len(severities), **{score_column(code): severities})
    values = quality_of(table, (code,))
    assert np.all(np.diff(values) <= 0) and values[0] > values[-1]
    assert values[-1] == pytest.approx(0.0)


def test_quality_rises_with_the_judge_score_and_ignores_nan() -> None:
    judge = [0.0, 0.25, 0.5, 1.0, float("nan")]
    values = quality_of(batch([GOOD] * len(judge), judge_score=judge))
    assert np.all(np.diff(values[:4]) > 0)
    assert values[4] == pytest.approx(quality_of(batch([GOOD]))[0])


def test_quality_weights_are_recipe_settings() -> None:
    table = batch([GOOD, GOOD], refusal=[0.0, 1.0])
    assert quality_of(table, ("refusal",), check_weights={"refusal": 0.0})[1] == pytest.approx(
        quality_of(table, ("refusal",))[0]
    )


def test_low_quality_reaches_its_threshold_exactly_at_the_recipe_threshold() -> None:
    stage = Quality(QualitySettings(threshold=0.6))
    table = batch([GOOD, OFF_TOPIC])
    stage.bind({"turns": TURN_TYPE}, ())
    out = stage.process(table)
    quality = np.asarray(out["quality"].to_numpy(zero_copy_only=False))
    low = np.asarray(out["low_quality"].to_numpy(zero_copy_only=False))
    assert list(low >= 0.5) == list(quality <= 0.6)
    assert out["low_quality__msg"][1].as_py() is not None
