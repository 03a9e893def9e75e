"""Recipes are validated before anything runs; every mistake is one line naming the recipe line."""

from __future__ import annotations

from pathlib import Path

import pytest

from curata.errors import RecipeError
from curata.pipeline import build_plan
from curata.recipe import builtin_recipe_text, load_recipe
from tests.conftest import cli, write_jsonl


def plan_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        build_plan(load_recipe(str(path)), "fp")
    return str(info.value)


def test_unknown_stage_names_the_line_and_suggests_a_fix(tmp_path: Path) -> None:
    message = plan_error(tmp_path, "name: x\nstages:\n  - normalize\n  - exact_dedupe: {key: prompt}\n")
    assert message.startswith(f"{tmp_path / 'r.yaml'}:4: unknown stage 'exact_dedupe'")
    assert "did you mean 'exact_dedup'" in message


def test_bad_setting_value_names_the_setting_and_its_line(tmp_path: Path) -> None:
    message = plan_error(tmp_path, "stages:\n  - normalize\n  - exact_dedup:\n      key: answer\n")
    assert ":4: stage 'exact_dedup', setting 'key'" in message and "'conversation'" in message


def test_unknown_setting_is_an_error(tmp_path: Path) -> None:
    message = plan_error(tmp_path, "stages:\n  - stats:\n      tokeniser: x\n")
    assert ":3:" in message and "tokeniser" in message


def test_missing_input_column_names_the_stage_that_would_write_it(tmp_path: Path) -> None:
    message = plan_error(tmp_path, "stages:\n  - exact_dedup\n  - decide\n")
    assert ":2: stage 'exact_dedup' reads column 'norm_hash_conversation'" in message
    assert "add 'normalize' before it" in message


def test_decide_on_a_check_no_stage_computes_is_an_error(tmp_path: Path) -> None:
    message = plan_error(
        tmp_path, "stages:\n  - normalize\n  - decide:\n      actions: {exact_duplicate: flag}\n"
    )
    assert ":3: stage 'decide': check 'exact_duplicate' is not computed" in message


def test_threshold_out_of_range_is_an_error(tmp_path: Path) -> None:
    message = plan_error(
        tmp_path, "stages:\n  - checks\n  - decide:\n      thresholds:\n        empty_response: 3\n"
    )
    assert ":5: stage 'decide', setting 'thresholds.empty_response'" in message
    assert "less than or equal to 1" in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    message = plan_error(tmp_path, "stages:\n  - normalize\n  - [oops\n")
    assert "not valid YAML" in message


def test_recipe_error_stops_the_run_before_touching_the_output(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("stages:\n  - nope\n")
    data = write_jsonl(tmp_path / "in.jsonl", [{"text": "t", "label": "a"}])
    result = cli(["run", data, "-o", tmp_path / "out", "--recipe", recipe, "-q"])
    assert result.exit_code == 1
    assert not (tmp_path / "out").exists()


def test_recipe_show_prints_the_default_recipe_which_validates(tmp_path: Path) -> None:
    result = cli(["recipe", "show"])
    assert result.exit_code == 0 and result.output == builtin_recipe_text()
    path = tmp_path / "default.yaml"
    path.write_text(result.output)
    validated = cli(["recipe", "validate", path])
    assert validated.exit_code == 0 and "valid" in validated.output
