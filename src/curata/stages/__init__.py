"""Pipeline stages. Importing this package registers the built-in ones."""

from curata.stages import checks, conflicts, decide, dedup_exact, normalize, quality, select, split, stats
from curata.stages.base import DatasetStage, DatasetView, DecisionStage, RowStage, Stage, StageKind
from curata.stages.registry import STAGES, register_stage

from curata.llm import stage as llm_stage  # noqa: E402, I001 - registers the LLM stages

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
    "decide",
    "dedup_exact",
    "normalize",
    "quality",
    "register_stage",
    "select",
    "split",
    "stats",
]
