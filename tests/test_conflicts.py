"""Conflicting duplicates: same prompt, different answer or label, flagged (not dropped)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_jsonl


def test_same_prompt_with_different_answers_flags_every_member(run_curata, tmp_path: Path) -> None:
    rows = [
        {"instruction": "What is 2+2?", "input": "", "output": "4"},
        {"instruction": "what is  2+2", "input": "", "output": "5"},
        {"instruction": "What is 2+2?", "input": "", "output": "4"},
        {"instruction": "Name a primary colour.", "input": "", "output": "Red."},
    ]
    run = run_curata(write_jsonl(tmp_path / "in.jsonl", rows))
    conflicts = {f["id"]: f for f in run.findings if f["check"] == "conflicting_duplicate"}
    assert set(conflicts) == {"0", "1", "2"}
    assert conflicts["1"]["related"] == ["0", "2"] and conflicts["1"]["severity"] == "warning"
    assert "different answers" in conflicts["1"]["message"]
    # Flagged, not dropped: only the exact copy (row 2) is rejected.
    assert [r["id"] for r in run.rejected] == ["2"]


def test_same_text_with_different_labels_is_a_label_conflict(run_curata, tmp_path: Path) -> None:
    rows = [
        {"text": "Great film!", "label": "pos"},
        {"text": "great film", "label": "neg"},
        {"text": "Dull.", "label": "neg"},
    ]
    run = run_curata(write_jsonl(tmp_path / "in.jsonl", rows))
    conflicts = [f for f in run.findings if f["check"] == "conflicting_duplicate"]
    assert {f["id"] for f in conflicts} == {"0", "1"}
    assert all("labels neg, pos" in f["message"] for f in conflicts)
