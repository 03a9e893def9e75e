"""`curata run --decontaminate-against FILE...`: add the user's eval sets to the recipe's
contamination check, by rewriting the recipe, so that the run's stored recipe (and therefore
`curata select` re-runs and the manifest) says exactly what was checked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from curata.errors import InputError, RecipeError
from curata.recipe import Recipe, parse_recipe


def with_eval_sets(recipe: Recipe, files: Sequence[str]) -> Recipe:
    """The recipe with `files` added to `checks.settings.contamination.files` (absolute paths)."""
    if not files:
        return recipe
    for path in files:
        if not Path(path).exists():
            raise InputError("eval set for --decontaminate-against not found", path=path)
    data: dict[str, Any] = yaml.safe_load(recipe.text)
    stages: list[Any] = data["stages"]
    for index, item in enumerate(stages):
        if item == "checks" or (isinstance(item, dict) and "checks" in item):
            settings = dict(item["checks"] or {}) if isinstance(item, dict) else {}
            if settings.get("run") is not None and "contamination" not in settings["run"]:
                settings["run"] = [*settings["run"], "contamination"]
            per_check = dict(settings.get("settings") or {})
            contamination = dict(per_check.get("contamination") or {})
            known = list(contamination.get("files") or [])
            contamination["files"] = known + [
                str(Path(p).resolve()) for p in files if str(Path(p).resolve()) not in known
            ]
            per_check["contamination"] = contamination
            settings["settings"] = per_check
            stages[index] = {"checks": settings}
            return parse_recipe(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), recipe.source)
    raise RecipeError("--decontaminate-against needs a 'checks' stage in the recipe", path=recipe.source)
