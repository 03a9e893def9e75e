"""From a recipe to a validated plan: stages in order, the columns each reads and writes, and a
fingerprint per stage that changes only when the stage or what it reads changes, so a rerun with a
new threshold recomputes only what depends on it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
import pyarrow as pa

from curata import __version__
from curata.errors import RecipeError
from curata.recipe import Recipe, StageSpec, build_stage
from curata.records import RECORD_SCHEMA
from curata.stages import STAGES
from curata.stages.base import Stage, StageKind

INGEST = "ingest"


@dataclass(frozen=True)
class PlannedStage:
    index: int
    stage: Stage
    spec: StageSpec
    fingerprint: str

    @property
    def name(self) -> str:
        return self.stage.name

    @property
    def key(self) -> str:
        """Its folder in the work area: readable, and unique to this stage's inputs and settings."""
        return f"{self.index:02d}-{self.stage.name}-{self.fingerprint[:12]}"


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    stages: tuple[PlannedStage, ...]
    columns: dict[str, pa.DataType]
    producers: dict[str, str]
    codes: tuple[str, ...]

    def row_groups(self) -> list[list[PlannedStage]]:
        """Consecutive row stages run together over each batch; other stages run alone."""
        groups: list[list[PlannedStage]] = []
        for planned in self.stages:
            if planned.stage.kind is StageKind.ROW and groups and groups[-1][0].stage.kind is StageKind.ROW:
                groups[-1].append(planned)
            else:
                groups.append([planned])
        return groups


def digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def build_plan(recipe: Recipe, ingest_fingerprint: str) -> Plan:
    """Validate the recipe against the columns it will have, and fingerprint each stage."""
    specs = list(recipe.stages)
    if not any(spec.name == "decide" for spec in specs):
        specs.append(StageSpec("decide", {}, None))
    columns: dict[str, pa.DataType] = {f.name: f.type for f in RECORD_SCHEMA}
    producers = dict.fromkeys(columns, INGEST)
    fingerprints = {INGEST: ingest_fingerprint}
    codes: list[str] = []
    planned: list[PlannedStage] = []
    for index, spec in enumerate(specs):
        stage = build_stage(spec, recipe)
        try:
            stage.bind(columns, tuple(codes))
        except ValueError as exc:
            raise RecipeError(f"stage '{spec.name}': {exc}", path=recipe.source, line=spec.line) from None
        for column in sorted(stage.reads()):
            if column not in columns:
                raise RecipeError(
                    f"stage '{spec.name}' reads column '{column}', which no earlier stage writes"
                    + writer_hint(column),
                    path=recipe.source,
                    line=spec.line,
                )
        upstream = sorted({producers[c] for c in stage.reads()})
        fingerprint = digest(
            {
                "curata": __version__,
                "stage": spec.name,
                "version": stage.version,
                "settings": stage.settings.model_dump(mode="json"),
                "reads": sorted(stage.reads()),
                "upstream": [fingerprints[p] for p in upstream],
            }
        )
        step = PlannedStage(index, stage, spec, fingerprint)
        for column, dtype in stage.writes().items():
            if column in columns:
                raise RecipeError(
                    f"stage '{spec.name}' writes column '{column}', already written by "
                    f"'{producers[column]}' (a stage can appear once per column it writes)",
                    path=recipe.source,
                    line=spec.line,
                )
            columns[column] = dtype
            producers[column] = step.key
        fingerprints[step.key] = fingerprint
        codes.extend(stage.check_codes())
        planned.append(step)
    if planned[-1].stage.kind is not StageKind.DECISION:
        raise RecipeError("the last stage must be 'decide'", path=recipe.source, line=planned[-1].spec.line)
    return Plan(recipe, tuple(planned), columns, producers, tuple(dict.fromkeys(codes)))


def writer_hint(column: str) -> str:
    """Name the stage that would write a missing column, when one with default settings does."""
    for name, cls in sorted(STAGES.items()):
        try:
            stage = cls(cls.Settings())
            stage.bind({}, ())
            if column in stage.writes():
                return f" (add '{name}' before it)"
        except (ValueError, TypeError):
            continue
    return ""
