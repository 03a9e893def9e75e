"""The one way curata talks to a model: cache first, then the budget, then the backend with retries.

Concurrency is a semaphore around each request; retries sleep outside it so a backing-off request
does not hold a slot. The backend is built on the first cache miss, so a rerun answered wholly from
the cache never loads a model or opens a connection.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from curata.llm.backends import Backend, make_backend
from curata.llm.budget import Budget, BudgetExhaustedError, Estimate, estimate
from curata.llm.cache import CompletionCache
from curata.llm.config import LLMSettings
from curata.llm.request import ChatRequest, Completion
from curata.llm.retry import FatalLLMError, RequestFailedError, TransientError, backoff_delay

log = logging.getLogger("curata.llm")
T = TypeVar("T")

__all__ = ["BudgetExhaustedError", "FatalLLMError", "LLMClient", "LLMStats", "RequestFailedError"]


@dataclass
class LLMStats:
    requests_sent: int = 0
    cache_hits: int = 0
    retries: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    budget_exhausted: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["cost"] = round(self.cost, 6)
        return out


class LLMClient:
    def __init__(
        self,
        settings: LLMSettings,
        cache: CompletionCache | None = None,
        backend_factory: Callable[[LLMSettings], Backend] = make_backend,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.model = settings.model_name()
        self.cache = (
            cache if cache is not None else CompletionCache(Path(settings.cache) if settings.cache else None)
        )
        self.budget = Budget(settings.max_requests, settings.max_cost, settings.price())
        self.stats = LLMStats()
        self.backend_factory = backend_factory
        self.backend: Backend | None = None
        self.semaphore: asyncio.Semaphore | None = None
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.fatal: FatalLLMError | None = None

    def cached(self, request: ChatRequest) -> Completion | None:
        return self.cache.get(request.cache_key(self.model))

    def estimate(self, requests: list[ChatRequest]) -> Estimate:
        """Requests, tokens and cost of the requests not already cached."""
        missing = [r for r in requests if self.cached(r) is None]
        return estimate(missing, len(requests) - len(missing), self.budget.price)

    def dry_run(self, requests: list[ChatRequest]) -> str:
        return self.estimate(requests).describe(self.model)

    def ensure_backend(self) -> Backend:
        if self.backend is None:
            self.backend = self.backend_factory(self.settings)
            slots = min(self.settings.concurrency, self.backend.max_concurrency)
            self.semaphore = asyncio.Semaphore(slots)
        return self.backend

    async def complete(self, request: ChatRequest) -> Completion:
        """The answer to `request`, from the cache or the model.

        Raises BudgetExhaustedError (cap reached, nothing sent), RequestFailedError (this request cannot be
        answered) or FatalLLMError (nothing can be: bad key, no server).
        """
        key = request.cache_key(self.model)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats.cache_hits += 1
            return hit
        if self.fatal is not None:
            raise self.fatal
        backend = self.ensure_backend()
        assert self.semaphore is not None
        attempt = 0
        while True:
            async with self.semaphore:
                if self.fatal is not None:
                    raise self.fatal
                try:
                    reserved = self.budget.acquire(request)
                except BudgetExhaustedError:
                    self.stats.budget_exhausted = self.budget.exhausted_by
                    raise
                self.stats.requests_sent += 1
                try:
                    result = await backend.send(request, self.model)
                except TransientError as exc:
                    self.budget.settle(reserved, 0, 0)
                    error: TransientError = exc
                except RequestFailedError:
                    self.budget.settle(reserved, 0, 0)
                    self.stats.failed_requests += 1
                    raise
                except FatalLLMError as exc:
                    self.budget.settle(reserved, 0, 0)
                    self.fatal = exc
                    raise
                else:
                    self.stats.cost += self.budget.settle(
                        reserved, result.prompt_tokens, result.completion_tokens
                    )
                    self.stats.prompt_tokens += result.prompt_tokens
                    self.stats.completion_tokens += result.completion_tokens
                    self.cache.put(key, self.model, result)
                    return result
            if attempt >= self.settings.max_retries:
                self.stats.failed_requests += 1
                if error.unreachable:
                    self.fatal = FatalLLMError(str(error))
                    raise self.fatal
                raise RequestFailedError(f"gave up after {attempt + 1} attempts: {error}")
            delay = backoff_delay(
                attempt,
                self.settings.backoff_base,
                self.settings.backoff_max,
                error.retry_after,
                self.settings.retry_after_max,
                self.rng,
            )
            log.debug("retrying in %.2fs after: %s", delay, error)
            self.stats.retries += 1
            attempt += 1
            await self.sleep(delay)

    async def map(self, coros: Iterable[Awaitable[T]]) -> list[T]:
        """Run coroutines concurrently (the semaphore bounds requests); the first fatal error
        cancels the rest, so nothing more is sent after a bad key."""
        tasks = [asyncio.ensure_future(c) for c in coros]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def close(self) -> None:
        if self.backend is not None:
            await self.backend.close()
