"""From a recipe's `model:` setting to an embedder, and its width without loading it."""

from __future__ import annotations

import json
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


def static_config(path: Path) -> dict[str, object] | None:
    """A model2vec folder's config, or None when the folder holds another kind of model."""
    config = path / "config.json"
    if not config.is_file():
        return None
    data: dict[str, object] = json.loads(config.read_text(encoding="utf-8"))
    return data if data.get("model_type") == "model2vec" else None


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
    static = static_config(path)
    width = static.get("hidden_dim") if static is not None else transformer_dim(path)
    dim = width if isinstance(width, int) else None
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
    if static_config(path) is not None:
        return StaticEmbedder(path)
    return TransformerEmbedder(path, batch_size=spec.batch_size)
