"""From a recipe's `model:` setting to an embedder, and its width without loading it."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from curata.embed.base import Embedder
from curata.errors import CurataError

BUILTIN = ("fast", "minilm", "hashing")


@dataclass(frozen=True)
class EmbedderSpec:
    """`model`: fast | minilm | hashing | a local folder | an http(s) base URL of an endpoint."""

    model: str = "fast"
    dim: int | None = None
    endpoint_model: str = "text-embedding-3-small"
    batch_size: int = 64
    api_key_env: str = "OPENAI_API_KEY"

    @property
    def is_endpoint(self) -> bool:
        return self.model.startswith(("http://", "https://"))


def static_width(path: Path) -> int | None:
    """The width of a model2vec static model (one 2-D `embeddings` tensor), read from the
    safetensors header without loading weights; None for any other kind of model folder."""
    weights = path / "model.safetensors"
    if not weights.is_file():
        return None
    with open(weights, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    shape = header.get("embeddings", {}).get("shape", [])
    return int(shape[1]) if len(shape) == 2 else None


def embedder_dim(spec: EmbedderSpec) -> int:
    """The vector width the stage will write, known before any worker loads the model."""
    from curata.embed.static import FAST_DIM, minilm_path
    from curata.embed.transformer import transformer_dim

    if spec.dim is not None:
        return spec.dim
    if spec.model == "fast":
        return FAST_DIM
    if spec.model == "hashing":
        return 256
    if spec.is_endpoint:
        raise CurataError("an embeddings endpoint needs 'dim' (the width of its vectors) in the recipe")
    path = minilm_path() if spec.model == "minilm" else Path(spec.model)
    if not path.is_dir():
        raise CurataError(
            f"embedding model folder '{spec.model}' does not exist (give fast, minilm or a path)"
        )
    dim = static_width(path) or transformer_dim(path)
    if dim is None:
        raise CurataError(f"cannot tell the vector width of '{spec.model}': add 'dim' to the recipe")
    return dim


def load_embedder(spec: EmbedderSpec | str) -> Embedder:
    from curata.embed.endpoint import EndpointEmbedder
    from curata.embed.hashing import HashingEmbedder
    from curata.embed.static import StaticEmbedder, fast_model_path, minilm_path
    from curata.embed.transformer import TransformerEmbedder

    if isinstance(spec, str):
        spec = EmbedderSpec(model=spec)
    if spec.model == "fast":
        return StaticEmbedder(fast_model_path())
    if spec.model == "hashing":
        return HashingEmbedder(spec.dim or 256)
    if spec.is_endpoint:
        return EndpointEmbedder(
            spec.model,
            spec.endpoint_model,
            embedder_dim(spec),
            batch_size=spec.batch_size,
            api_key_env=spec.api_key_env,
        )
    path = minilm_path() if spec.model == "minilm" else Path(spec.model)
    if not path.is_dir():
        raise CurataError(
            f"embedding model folder '{spec.model}' does not exist (give fast, minilm or a path)"
        )
    if static_width(path) is not None:
        return StaticEmbedder(path)
    return TransformerEmbedder(path, batch_size=spec.batch_size)
