"""Text embedders behind one small protocol, so stages do not care where vectors come from.

`load_embedder("fast")` is the default (a static model distilled from all-MiniLM-L6-v2, built once
and cached); `"minilm"` the accurate transformer; a folder path loads a local model; `"hashing"`
is a dependency-free feature-hashing embedder for tests and tiny runs; `EndpointEmbedder` calls an
OpenAI-compatible `/v1/embeddings` server.
"""

from curata.embed.base import Embedder, unit_rows
from curata.embed.registry import EmbedderSpec, embedder_dim, load_embedder

__all__ = ["Embedder", "EmbedderSpec", "embedder_dim", "load_embedder", "unit_rows"]
