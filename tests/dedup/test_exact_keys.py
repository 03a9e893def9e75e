"""Exact dedup on the prompt and response sides, beside the conversation key in one recipe."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_jsonl

RECIPE = """
stages:
  - normalize
  - exact_dedup: {key: conversation}
  - exact_dedup: {key: prompt}
  - exact_dedup: {key: response}
  - decide
"""


def test_side_keys_write_their_own_columns_and_flag_without_dropping(run_curata, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"id": "a", "instruction": "Name a primary colour.", "output": "Red."},
        {"id": "b", "instruction": "name a primary colour", "output": "Blue."},
        {"id": "c", "instruction": "Name a warm colour.", "output": "red"},
        {"id": "d", "instruction": "Name a primary colour.", "output": "Red."},
    ]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    run = run_curata(write_jsonl(tmp_path / "in.jsonl", rows), extra=["--recipe", recipe])
    found = {(f["check"], f["id"]): f["related"] for f in run.findings}
    assert found[("exact_duplicate", "d")] == ["a"]
    assert found[("exact_duplicate_prompt", "b")] == ["a"]
    assert found[("exact_duplicate_prompt", "d")] == ["a"]
    assert found[("exact_duplicate_response", "c")] == ["a"]
    signals = run.signals.to_pydict()
    assert signals["exact_dup_cluster_prompt"] == [0, 0, -1, 0]
    assert signals["exact_dup_cluster_response"] == [0, -1, 0, 0]
    assert signals["exact_dup_cluster"] == [0, -1, -1, 0]
    # Only the whole-conversation copy is dropped; side-key duplicates are flagged.
    assert [(r["id"], r["reasons"]) for r in run.rejected] == [("d", ["exact_duplicate"])]
