"""What a stage is: the columns it reads and writes, and one of three kinds of work.

- a row stage computes per-record signals from one batch at a time (run in parallel by the engine);
- a dataset stage needs every row at once (dedup clustering, label checks) and may emit
  dataset-level findings;
- a decision stage turns signals into keep/drop with reasons.

A stage does not know which engine runs it: it sees Arrow tables and a `DatasetView`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict


class StageKind(StrEnum):
    ROW = "row"
    DATASET = "dataset"
    DECISION = "decision"


class StageSettings(BaseModel):
    """Base for stage settings: unknown keys are errors, so a typo in a recipe is caught."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Finding:
    """What a check says about a record (`id`) or about the whole set (`id` None)."""

    check: str
    severity: str
    message: str
    id: str | None = None
    related: tuple[str, ...] = ()
    score: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "related": list(self.related),
        }
        if self.score is not None:
            out["score"] = round(float(self.score), 6)
        out.update(self.extra)
        return out


class Stage(ABC):
    """A step of a recipe. Subclasses set `name`, `kind`, `Settings` and describe themselves."""

    name: ClassVar[str]
    kind: ClassVar[StageKind]
    description: ClassVar[str]
    Settings: ClassVar[type[StageSettings]] = StageSettings
    # Bump when a stage's output changes for the same settings, so cached results are recomputed.
    version: ClassVar[str] = "1"

    def __init__(self, settings: StageSettings) -> None:
        self.settings = settings

    @abstractmethod
    def reads(self) -> frozenset[str]:
        """Columns this stage needs (record columns or columns written by earlier stages)."""

    @abstractmethod
    def writes(self) -> dict[str, pa.DataType]:
        """Columns this stage adds, with their types."""

    def check_codes(self) -> tuple[str, ...]:
        """Check codes this stage scores (a float column per code, see `checks.columns`)."""
        return ()

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:  # noqa: B027
        """Told which columns and check codes earlier stages produce, before `reads` is asked.

        Stages that adapt (use `quality` where present, decide over every code) override this.
        """


class RowStage(Stage):
    kind = StageKind.ROW

    def setup(self) -> None:
        """Load models or indexes once per worker process, before the first batch."""

    @abstractmethod
    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        """New columns for this batch, each as long as the batch."""


class DatasetView(ABC):
    """Read access to every row's columns, for dataset stages; column data may live on disk."""

    @property
    @abstractmethod
    def n_rows(self) -> int: ...

    @abstractmethod
    def column(self, name: str) -> pa.ChunkedArray:
        """One column over all rows, in row order."""

    @abstractmethod
    def iter_batches(self, columns: Sequence[str]) -> Iterator[pa.Table]:
        """The given columns, one part at a time, in row order."""

    @abstractmethod
    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """The given rows (global row numbers) of the given columns, in the order asked."""

    def numpy(self, name: str) -> np.ndarray:
        return np.asarray(self.column(name).to_numpy())


@dataclass
class DatasetResult:
    """A dataset stage's output: full-length columns, dataset-level findings, a summary entry."""

    columns: dict[str, pa.Array]
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[int], None]


class DatasetStage(Stage):
    kind = StageKind.DATASET

    @abstractmethod
    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        """Compute this stage's columns over the whole set."""


class DecisionStage(DatasetStage):
    kind = StageKind.DECISION
