"""Pipeline stages. Importing this package registers the built-in ones."""

from curata.stages import checks, conflicts, decide, dedup_exact, normalize, quality, select, split, stats
from curata.stages import embed as embed  # semantic: embeddings, semantic dedup, topics
from curata.stages import semantic_dedup as semantic_dedup
from curata.stages import topics as topics
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
    "decide",
    "dedup_exact",
    "normalize",
    "quality",
    "register_stage",
    "select",
    "split",
    "stats",
]
