"""Pipeline stages. Importing this package registers the built-in ones."""

from curata.stages import (
    checks,
    conflicts,
    coverage,
    decide,
    dedup_exact,
    formats,
    labels,
    lengths,
    normalize,
    quality,
    select,
    split,
    stats,
)
from curata.stages.base import DatasetStage, DatasetView, DecisionStage, RowStage, Stage, StageKind
from curata.stages.registry import STAGES, register_stage

__all__ = [
    "STAGES",
    "DatasetStage",
    "DatasetView",
    "DecisionStage",
    "RowStage",
    "Stage",
    "StageKind",
    "checks",
    "conflicts",
    "coverage",
    "decide",
    "dedup_exact",
    "formats",
    "labels",
    "lengths",
    "normalize",
    "quality",
    "register_stage",
    "select",
    "split",
    "stats",
]
