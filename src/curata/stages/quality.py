"""The overall quality score of a record, in [0, 1], higher is better.

Interim formula until the full quality model lands: one minus the highest severity among the
per-record checks computed so far (duplicates excluded: a copy is not worse than its original).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from curata.checks.columns import score_column
from curata.stages.base import RowStage
from curata.stages.registry import register_stage

NOT_QUALITY = frozenset({"exact_duplicate", "near_duplicate", "semantic_duplicate", "conflicting_duplicate"})


@register_stage
class Quality(RowStage):
    name = "quality"
    description = "overall quality score in [0, 1] from the signals computed before it"
    codes: tuple[str, ...] = ()

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        self.codes = tuple(c for c in dict.fromkeys(codes) if c not in NOT_QUALITY)

    def reads(self) -> frozenset[str]:
        return frozenset(score_column(c) for c in self.codes)

    def writes(self) -> dict[str, pa.DataType]:
        return {"quality": pa.float32()}

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        worst = np.zeros(batch.num_rows)
        for code in self.codes:
            scores = np.nan_to_num(batch.column(score_column(code)).to_numpy(zero_copy_only=False), nan=0.0)
            worst = np.maximum(worst, scores)
        return {"quality": pa.array((1.0 - worst).astype(np.float32))}
