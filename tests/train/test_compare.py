"""`compare` end to end on tiny data: same budget for both sides, held-out loss, judge, report section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curata.report.build import ReportContext
from curata.train.attach import attach, run_dir_of
from curata.train.compare import RESULT_FILE, compare
from curata.train.judge import load_judge, verdict, win_rate
from curata.train.report_section import raw_vs_curated
from curata.train.settings import FinetuneSettings
from tests.conftest import write_jsonl
from tests.train.tiny_model import conversations

REFUSAL = [
    {"role": "user", "content": "What is 1 plus 1?"},
    {"role": "assistant", "content": "I cannot help."},
]


@pytest.fixture(scope="module")
def compared(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("compare")
    raw = write_jsonl(folder / "raw.jsonl", [{"messages": c} for c in conversations(40) + [REFUSAL] * 20])
    # The curated side in another format: compare reads whatever curata reads.
    curated = write_jsonl(
        folder / "curated.jsonl",
        [{"instruction": c[0]["content"], "input": "", "output": c[1]["content"]} for c in conversations(40)],
    )
    held_out = write_jsonl(folder / "eval.jsonl", [{"messages": c} for c in conversations(6, offset=300)])
    settings = FinetuneSettings(method="lora", max_steps=4, batch_size=2, max_length=48, learning_rate=2e-3)
    result = compare(
        [str(raw)],
        [str(curated)],
        str(tiny_model),
        [str(held_out)],
        folder / "out",
        settings,
        judge_spec="tests.train.judges:longer",
        max_new_tokens=6,
    )
    return result, folder


def test_both_sides_train_the_same_steps_and_tokens(compared: tuple[dict[str, Any], Path]) -> None:
    result, _ = compared
    raw, curated = result["sides"]["raw"], result["sides"]["curated"]
    assert raw["train"]["steps"] == curated["train"]["steps"] == 4
    assert (
        raw["train"]["tokens_seen"] == curated["train"]["tokens_seen"] == result["budget"]["tokens_per_side"]
    )
    assert result["budget"]["tokens_per_side"] == 4 * 2 * 48
    assert (raw["records"], curated["records"]) == (60, 40)
    assert raw["data_tokens"] > curated["data_tokens"]


def test_held_out_loss_and_judge_are_reported(compared: tuple[dict[str, Any], Path]) -> None:
    result, folder = compared
    assert result["eval"]["examples"] == 6 and result["eval"]["assistant_tokens"] > 0
    for side in ("raw", "curated"):
        assert 0 < result["sides"][side]["eval_loss"] < 20
        assert result["sides"][side]["eval_prompts_in_training_data"] == 0
    judged = result["judge"]
    assert judged["curated_wins"] + judged["raw_wins"] + judged["ties"] == 6
    assert json.loads((folder / "out" / RESULT_FILE).read_text())["budget"] == result["budget"]


def test_report_section_shows_an_attached_result_for_its_own_run_only(
    compared: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    result, _ = compared
    run = tmp_path / "run"
    (run / ".curata").mkdir(parents=True)
    (run / ".curata" / "manifest.json").write_text(json.dumps({"fingerprint": "abc"}))
    attach(run, RESULT_FILE, result)
    report_path = run / ".curata" / "staging" / "report.html"
    assert run_dir_of(report_path) == run
    ctx = ReportContext(
        summary={}, signals=None, examples={}, first_reason={}, extra={"report_path": str(report_path)}
    )  # type: ignore[arg-type]
    section = raw_vs_curated(ctx)
    assert section is not None and "held-out loss" in section.body and "curated win rate" in section.body
    # After a run on other data the manifest changes: the old result is not shown.
    (run / ".curata" / "manifest.json").write_text(json.dumps({"fingerprint": "other"}))
    assert raw_vs_curated(ctx) is None


def test_judge_needs_agreement_in_both_orders() -> None:
    def first_wins(prompt: str, a: str, b: str) -> str:
        return "a"

    def prefers_yes(prompt: str, a: str, b: str) -> str:
        return "a" if "yes" in a else "b"

    assert verdict(first_wins, "p", "x", "y") == "tie"
    assert verdict(prefers_yes, "p", "no", "yes") == "b"
    rate = win_rate(prefers_yes, ["p", "q"], ["yes", "no"], ["no", "yes"])
    assert (rate.wins, rate.losses, rate.ties, rate.rate) == (1, 1, 0, 0.5)


def test_without_a_judge_the_win_rate_is_skipped_with_a_reason() -> None:
    judge, why = load_judge(None)
    assert judge is None and "skipped" in why
    judge, why = load_judge("tests.train.judges:longer")
    assert judge is not None and judge("p", "long answer", "short") == "a"


def test_default_budget_is_the_planned_epochs_over_the_curated_tokens() -> None:
    from curata.train.compare import budget_steps
    from curata.train.plan import planned_epochs

    settings = FinetuneSettings(epochs=planned_epochs(500), batch_size=2, max_length=100)
    assert settings.epochs == 5
    assert budget_steps(10_000, settings) == 250
