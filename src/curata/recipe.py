"""Recipes: the YAML list of stages and their settings, read with line numbers so that every
mistake is reported as `recipe.yaml:LINE: what is wrong`, before anything runs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import ValidationError

from curata.errors import RecipeError
from curata.stages import STAGES
from curata.stages.base import Stage

DEFAULT_RECIPE = "default"
TOP_LEVEL_KEYS = frozenset({"name", "description", "stages"})


@dataclass(frozen=True)
class StageSpec:
    """One stage as the recipe names it: its settings and where it is written."""

    name: str
    settings: dict[str, Any]
    line: int | None
    node: yaml.Node | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    stages: tuple[StageSpec, ...]
    source: str
    text: str


def builtin_recipe_text(name: str = DEFAULT_RECIPE) -> str:
    return resources.files("curata").joinpath("recipes", f"{name}.yaml").read_text(encoding="utf-8")


def builtin_recipe_names() -> list[str]:
    folder = resources.files("curata").joinpath("recipes")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_recipe(path: str | None) -> Recipe:
    """The recipe at `path`, a built-in recipe by name (`default`, `semantic`), or the default."""
    if path is None:
        return parse_recipe(builtin_recipe_text(), f"<built-in {DEFAULT_RECIPE} recipe>")
    file = Path(path)
    if not file.is_file() and path in builtin_recipe_names():
        return parse_recipe(builtin_recipe_text(path), f"<built-in {path} recipe>")
    if not file.is_file():
        names = ", ".join(builtin_recipe_names())
        raise RecipeError(f"recipe file not found (built-in recipes: {names})", path=path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe: {exc}", path=path) from None
    return parse_recipe(text, path)


def parse_recipe(text: str, source: str) -> Recipe:
    from curata.checks.plugins import raise_plugin_errors

    raise_plugin_errors()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RecipeError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=source, line=line) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise RecipeError("a recipe is a YAML mapping with a 'stages' list", path=source, line=1)
    data = yaml.safe_load(text)
    for key_node, _ in root.value:
        if key_node.value not in TOP_LEVEL_KEYS:
            raise RecipeError(
                f"unknown top-level key '{key_node.value}' (expected: {', '.join(sorted(TOP_LEVEL_KEYS))})",
                path=source,
                line=key_node.start_mark.line + 1,
            )
    stages_node = child(root, "stages")
    if stages_node is None or not isinstance(stages_node, yaml.SequenceNode) or not stages_node.value:
        raise RecipeError(
            "'stages' must be a non-empty list of stages", path=source, line=line_of(stages_node or root)
        )
    specs = [
        stage_spec(item_node, item, source)
        for item_node, item in zip(stages_node.value, data["stages"], strict=True)
    ]
    return Recipe(
        name=str(data.get("name") or Path(source).stem),
        description=str(data.get("description") or ""),
        stages=tuple(specs),
        source=source,
        text=text,
    )


def stage_spec(node: yaml.Node, item: Any, source: str) -> StageSpec:
    """A list item is a stage name, or a one-key mapping from the stage name to its settings."""
    line = line_of(node)
    if isinstance(item, str):
        return StageSpec(item, {}, line, None)
    if isinstance(item, dict) and len(item) == 1:
        name, settings = next(iter(item.items()))
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            raise RecipeError(f"settings of stage '{name}' must be a mapping", path=source, line=line)
        assert isinstance(node, yaml.MappingNode)
        return StageSpec(str(name), settings, line, node.value[0][1])
    raise RecipeError("each stage is a name or a mapping {stage_name: {settings}}", path=source, line=line)


def child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return cast(yaml.Node, value_node)
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return cast(yaml.Node, node.value[key])
    return None


def line_of(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def settings_line(spec: StageSpec, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest part of `loc` that the recipe spells out."""
    node, line = spec.node, spec.line
    for part in loc:
        node = child(node, part)
        if node is None:
            break
        line = line_of(node)
    return line


def build_stage(spec: StageSpec, recipe: Recipe) -> Stage:
    """Instantiate a stage, validating its settings; errors name the recipe line."""
    cls = STAGES.get(spec.name)
    if cls is None:
        close = difflib.get_close_matches(spec.name, STAGES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise RecipeError(
            f"unknown stage '{spec.name}'{hint}; known stages: {', '.join(sorted(STAGES))}",
            path=recipe.source,
            line=spec.line,
        )
    try:
        settings = cls.Settings.model_validate(spec.settings)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        where = ".".join(str(p) for p in loc)
        field_part = f", setting '{where}'" if where else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        raise RecipeError(
            f"stage '{spec.name}'{field_part}: {message}", path=recipe.source, line=settings_line(spec, loc)
        ) from None
    return cls(settings)
