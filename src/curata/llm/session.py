"""Building a client for one job and running its async work from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from curata.llm.cache import CompletionCache
from curata.llm.client import LLMClient
from curata.llm.config import LLMSettings

if TYPE_CHECKING:
    from curata.stages.base import DatasetView

T = TypeVar("T")
CACHE_NAME = "llm-cache.sqlite"


def work_area(data: DatasetView) -> Path | None:
    """The run's private work area (`OUT/.curata`), when the engine exposes it."""
    run = getattr(getattr(data, "store", None), "run", None)
    work = getattr(run, "work", None)
    return Path(work) if work is not None else None


def open_client(settings: LLMSettings, default_cache: Path | None) -> LLMClient:
    """A client whose cache is `settings.cache`, else `default_cache` (None: memory only)."""
    path = Path(settings.cache) if settings.cache else default_cache
    return LLMClient(settings, CompletionCache(path))


def run_with_client(client: LLMClient, work: Callable[[LLMClient], Awaitable[T]]) -> T:
    """Run `work(client)` to completion in a fresh event loop, closing connections afterwards."""

    async def main() -> T:
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    finally:
        client.cache.close()


def stats_summary(client: LLMClient) -> dict[str, Any]:
    caps = {"max_requests": client.settings.max_requests, "max_cost": client.settings.max_cost}
    return {"model": client.model, **client.stats.to_json(), **caps}
