"""Embeds one side of each record (conversation, prompt or response) into the `embedding` column.

The model loads once per worker in `setup()`; vectors are L2-normalised float32 of a fixed width,
stored as `fixed_size_list<float32>[dim]` so later stages read them as one matrix.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.embed import Embedder, EmbedderSpec, embedder_dim, load_embedder
from curata.records import DedupKey, side_texts
from curata.stages.base import RowStage, StageSettings
from curata.stages.registry import register_stage

EMBEDDING = "embedding"


class EmbedSettings(StageSettings):
    # fast | minilm | hashing | a local model folder | an http(s) base URL of an embeddings endpoint
    model: str = "fast"
    key: DedupKey = "conversation"
    batch_size: int = Field(default=64, ge=1)
    dim: int | None = Field(default=None, ge=1)
    endpoint_model: str = "text-embedding-3-small"
    api_key_env: str = "OPENAI_API_KEY"

    def spec(self) -> EmbedderSpec:
        return EmbedderSpec(
            model=self.model,
            dim=self.dim,
            endpoint_model=self.endpoint_model,
            batch_size=self.batch_size,
            api_key_env=self.api_key_env,
        )


def embedding_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])


@register_stage
class Embed(RowStage):
    name = "embed"
    description = "an L2-normalised embedding of each record's conversation, prompt or response"
    Settings = EmbedSettings
    settings: EmbedSettings
    embedder: Embedder | None = None

    def reads(self) -> frozenset[str]:
        return frozenset({"turns"})

    def writes(self) -> dict[str, pa.DataType]:
        return {EMBEDDING: pa.list_(pa.float32(), embedder_dim(self.settings.spec()))}

    def setup(self) -> None:
        self.embedder = load_embedder(self.settings.spec())

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        if self.embedder is None:
            self.setup()
        assert self.embedder is not None
        vectors = self.embedder.encode(side_texts(batch, self.settings.key))
        return {EMBEDDING: embedding_array(vectors.reshape(batch.num_rows, self.embedder.dim))}
