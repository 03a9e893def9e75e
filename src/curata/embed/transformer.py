"""The accurate option: a sentence-transformers model from a local folder (MiniLM by default).

Compute-bound on CPU (~10-30 texts/s), so torch gets every core when it runs in the main process
and one thread per worker when the engine runs one worker per core.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import numpy as np

from curata.embed.base import unit_rows
from curata.errors import CurataError


def torch_threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 1 if multiprocessing.parent_process() is not None else max(1, cores)


def transformer_dim(path: Path) -> int | None:
    """The output width from the model's config files, without loading the weights."""
    for name, key in (("config.json", "hidden_size"), ("config.json", "dim")):
        file = path / name
        if file.is_file():
            value = json.loads(file.read_text(encoding="utf-8")).get(key)
            if isinstance(value, int):
                return value
    return None


class TransformerEmbedder:
    def __init__(self, path: Path, batch_size: int = 32, threads: int | None = None) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise CurataError(
                "transformer embedders need the 'embed' extra: pip install 'curata[embed]' 'torch==2.13.0'"
            ) from None
        torch.set_num_threads(threads or torch_threads())
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.model: Any = SentenceTransformer(str(path), device="cpu")
        self.batch_size = batch_size
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        width = getter()
        if width is None:
            raise CurataError(f"cannot tell the vector width of the model at {path}")
        self._dim = int(width)

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return unit_rows(np.asarray(vectors))
