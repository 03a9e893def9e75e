"""`curata select OUT`: rerun a finished run with a selection budget, reusing every signal it
already computed (only the selection and the outputs are recomputed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from curata.errors import InputError
from curata.progress import Reporter
from curata.runner import RunOptions, RunResult, run
from curata.workdir import RunDir, read_json


def recipe_with_select(recipe_text: str, select: dict[str, Any]) -> str:
    """The recipe with its `select` stage replaced (or added right after `decide`)."""
    data = yaml.safe_load(recipe_text)
    stages = [s for s in data["stages"] if stage_name(s) != "select"]
    names = [stage_name(s) for s in stages]
    if "decide" not in names:
        stages.append("decide")
        names.append("decide")
    stages.insert(names.index("decide") + 1, {"select": select})
    data["stages"] = stages
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def stage_name(item: Any) -> str:
    return item if isinstance(item, str) else next(iter(item))


def select_run(
    out: Path, select: dict[str, Any], reporter: Reporter, workers: int | None = None
) -> RunResult:
    run_dir = RunDir(out)
    if not run_dir.manifest.exists():
        raise InputError(
            "not a curata run directory (no .curata/manifest.json); run `curata run` first", path=str(out)
        )
    command = read_json(run_dir.manifest).get("command") or {}
    if not command.get("inputs"):
        raise InputError(
            "this run directory does not record its command; rerun `curata run` into it", path=str(out)
        )
    options = RunOptions(
        inputs=list(command["inputs"]),
        out=out,
        recipe=f"{command.get('recipe_source', 'recipe')} + select",
        format=command.get("format"),
        export_format=command.get("export_format"),
        workers=workers,
        batch_rows=int(command.get("batch_rows", 8192)),
        recipe_text=recipe_with_select(command["recipe_text"], select),
    )
    return run(options, reporter)
