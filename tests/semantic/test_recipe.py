"""The built-in `semantic` recipe: valid, and it adds embed, semantic_dedup and topics."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import cli


def test_semantic_recipe_is_valid_and_flags_semantic_duplicates(tmp_path: Path) -> None:
    shown = cli(["recipe", "show", "semantic"])
    assert shown.exit_code == 0
    path = tmp_path / "semantic.yaml"
    path.write_text(shown.output)
    checked = cli(["recipe", "validate", path])
    assert checked.exit_code == 0, checked.output
    assert "embed, semantic_dedup, topics" in " ".join(checked.output.split())
    assert "semantic_duplicate: flag" in shown.output


def test_a_bad_embedding_model_is_a_one_line_recipe_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"stages:\n  - embed: {{model: {tmp_path / 'nowhere'}}}\n")
    result = cli(["recipe", "validate", path])
    assert result.exit_code != 0
    assert "does not exist" in result.output and "Traceback" not in result.output
