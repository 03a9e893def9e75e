"""Command-line model options shared by `judge`, `generate` and `rewrite`, turned into LLMSettings.

Settings come from `--config` (a YAML file with an `llm:` mapping, or a recipe whose LLM stage has
one), then the flags override them; the API key only ever comes from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from curata.errors import CurataError
from curata.llm.config import LLMSettings, load_prices
from curata.llm.rubric import DEFAULT_RUBRIC, Rubric


@dataclass
class ModelOptions:
    config: str | None = None
    backend: str | None = None
    model: str | None = None
    base_url: str | None = None
    model_path: str | None = None
    gguf_file: str | None = None
    concurrency: int | None = None
    max_requests: int | None = None
    max_cost: float | None = None
    prices: str | None = None
    cache: str | None = None
    max_retries: int | None = None
    backoff_base: float | None = None
    timeout: float | None = None
    temperature: float | None = None
    max_tokens: int | None = None


def read_config(path: str, stage: str) -> dict[str, Any]:
    """The settings mapping for `stage` from a config YAML or a recipe."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CurataError(f"cannot read config: {exc}", path=path) from None
    if not isinstance(data, dict):
        raise CurataError("a config is a YAML mapping", path=path)
    stages = [item for item in data.get("stages") or [] if isinstance(item, dict) and len(item) == 1]
    settings = [(name, value) for item in stages for name, value in item.items() if isinstance(value, dict)]
    for name, value in settings:
        if name == stage:
            return dict(value)
    # A recipe without this stage: reuse the endpoint of any stage that has one.
    for _, value in settings:
        if isinstance(value.get("llm"), dict):
            return {"llm": value["llm"]}
    return {} if "stages" in data else data


def llm_settings(options: ModelOptions, stage: str, cache_default: Path | None) -> LLMSettings:
    base = read_config(options.config, stage).get("llm", {}) if options.config else {}
    overrides = {
        k: v
        for k, v in {
            "backend": options.backend,
            "model": options.model,
            "base_url": options.base_url,
            "model_path": options.model_path,
            "gguf_file": options.gguf_file,
            "concurrency": options.concurrency,
            "max_requests": options.max_requests,
            "max_cost": options.max_cost,
            "max_retries": options.max_retries,
            "backoff_base": options.backoff_base,
            "timeout": options.timeout,
            "temperature": options.temperature,
            "max_tokens": options.max_tokens,
            "cache": options.cache or (str(cache_default) if cache_default else None),
        }.items()
        if v is not None
    }
    if options.model_path and not options.backend:
        overrides["backend"] = "transformers"
    if options.cache is None and base.get("cache"):
        overrides.pop("cache", None)
    try:
        settings = LLMSettings.model_validate({**base, **overrides})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise CurataError(f"llm settings{' ' + where if where else ''}: {error['msg']}") from None
    if options.prices:
        settings.prices.update(load_prices(options.prices))
    return settings


def rubric_from(options: ModelOptions, rubric_path: str | None) -> Rubric:
    """A rubric file (YAML), else the config's `rubric:`, else the default rubric."""
    data: Any = None
    source = rubric_path or options.config
    if rubric_path:
        try:
            data = yaml.safe_load(Path(rubric_path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CurataError(f"cannot read rubric: {exc}", path=rubric_path) from None
    elif options.config:
        data = read_config(options.config, "judge").get("rubric")
    if data is None:
        return DEFAULT_RUBRIC
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise CurataError(f"rubric: {exc.errors()[0]['msg']}", path=source) from None
