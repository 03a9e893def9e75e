"""Pipeline stages. Importing this package registers the built-in ones."""

from curata.stages import (
    checks,
    conflicts,
    coverage,
    decide,
    dedup_exact,
    dedup_near,
    formats,
    labels,
    lengths,
    normalize,
    quality,
    select,
    split,
    stats,
)
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
    "coverage",
    "decide",
    "dedup_exact",
    "dedup_near",
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

# The LLM stages (judge, rewrite) live in curata.llm; importing them registers them.
from curata.llm import rewrite_stage as _llm_rewrite  # noqa: F401
from curata.llm import stage as _llm_judge  # noqa: F401
