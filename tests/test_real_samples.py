"""`curata run` writes the whole contract on samples of every kind of real dataset we target."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CONTRACT

REAL = Path(__file__).parent / "data" / "real"
EXPECTED_FORMAT = {
    "lima.json": "alpaca",
    "dpo_en_demo.json": "sharegpt",
    "glaive_toolcall_en_demo.json": "sharegpt",
    "kto_en_demo.json": "messages",
    "gsm_8k_train.json": "alpaca",
    "toolformer.json": "dolly",
    "imdb_subset.jsonl": "text_label",
    "davinci-t0-ft_predictions.jsonl": "dolly",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMAT))
def test_real_dataset_sample_runs_and_writes_the_contract(run_curata, name: str) -> None:
    run = run_curata(REAL / name)
    for file in CONTRACT:
        assert (run.out / file).exists(), file
    summary = run.summary
    assert summary["inputs"][0]["format"] == EXPECTED_FORMAT[name]
    assert summary["totals"]["bad_lines"] == 0
    assert len(run.curated) + len(run.rejected) == summary["totals"]["records"] > 0


def test_multi_turn_history_and_tool_calls_become_turns(run_curata) -> None:
    signals = run_curata(REAL / "lima.json").signals.to_pylist()
    assert max(row["n_turns"] for row in signals) > 2
    tool_rows = run_curata(REAL / "glaive_toolcall_en_demo.json").signals.to_pylist()
    assert max(row["n_turns"] for row in tool_rows) >= 5


def test_preference_pairs_read_the_chosen_answer(run_curata) -> None:
    run = run_curata(REAL / "dpo_en_demo.json")
    assert all(row["response_chars"] > 0 for row in run.signals.to_pylist())
    assert "empty_response" not in run.summary["rejected_by_reason"]
