"""An OpenAI-compatible embeddings server (`POST {base_url}/embeddings`), called in batches.

Works with OpenAI itself, vLLM, llama.cpp's server, text-embeddings-inference, Ollama and others
that speak the same request: `{"model", "input": [texts]}` → `{"data": [{"index", "embedding"}]}`.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import numpy as np

from curata.embed.base import unit_rows
from curata.errors import CurataError

RETRIES = 3


class EndpointEmbedder:
    def __init__(
        self,
        base_url: str,
        model: str,
        dim: int,
        *,
        batch_size: int = 64,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self._dim = dim
        self.batch_size = batch_size
        key = os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(timeout=timeout, headers=headers)

    @property
    def dim(self) -> int:
        return self._dim

    def post(self, texts: list[str]) -> dict[str, Any]:
        for attempt in range(RETRIES):
            try:
                response = self.client.post(self.url, json={"model": self.model, "input": texts})
            except httpx.TransportError as exc:
                if attempt == RETRIES - 1:
                    raise CurataError(f"embeddings endpoint {self.url} unreachable: {exc}") from None
            else:
                if response.status_code < 500 and response.status_code != 429:
                    break
                if attempt == RETRIES - 1:
                    break
            time.sleep(0.5 * 2**attempt)
        if response.status_code != 200:
            raise CurataError(
                f"embeddings endpoint {self.url} answered {response.status_code}: {response.text[:200]}"
            )
        body: dict[str, Any] = response.json()
        return body

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        # Servers reject empty strings; a single space embeds as "nothing said".
        body = self.post([t if t.strip() else " " for t in texts])
        data = sorted(body.get("data", []), key=lambda item: item["index"])
        if len(data) != len(texts):
            raise CurataError(
                f"embeddings endpoint {self.url} returned {len(data)} vectors for {len(texts)} texts"
            )
        vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        if vectors.shape[1] != self._dim:
            raise CurataError(
                f"embeddings endpoint {self.url} returned {vectors.shape[1]}-dimensional vectors; "
                f"the recipe says dim: {self._dim}"
            )
        return vectors

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        parts = [
            self.encode_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        return unit_rows(np.vstack(parts))
