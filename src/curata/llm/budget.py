"""Spending limits and estimates.

A *request* is one HTTP request sent to the server (or one generate call of an in-process model):
a retry after a 429 or a 500 is a new request and counts; a cache hit is not a request. With
`max_requests: N` exactly N requests are sent when the work needs N or more.

Cost is reserved before a request is sent (its estimated prompt tokens plus `max_tokens` of output,
priced by the price table, scaled up by how far earlier estimates fell short) and settled with the
real token counts afterwards. No request is sent whose reservation would pass `max_cost`; the
spend can exceed the cap only by what the requests already in flight under-estimated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from curata.llm.config import Price
from curata.llm.request import ChatRequest


class BudgetExhaustedError(Exception):
    """The request or cost cap is reached; work stops cleanly and keeps what it has."""


def cost_of(price: Price | None, prompt_tokens: int, completion_tokens: int) -> float:
    if price is None:
        return 0.0
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


class Budget:
    """Counts requests sent and dollars spent; refuses a request that would pass a cap."""

    def __init__(self, max_requests: int | None, max_cost: float | None, price: Price | None) -> None:
        self.max_requests = max_requests
        self.max_cost = max_cost
        self.price = price
        self.sent = 0
        self.spent = 0.0
        self.reserved = 0.0
        self.exhausted_by: str | None = None
        # Real token counts run above the 4-bytes-per-token guess (chat templates, tokenizers):
        # reservations are scaled by the largest actual/estimated ratio seen so far.
        self.correction = 1.0

    def acquire(self, request: ChatRequest) -> float:
        """Reserve one request; returns the reserved cost, raises BudgetExhaustedError at a cap."""
        if self.max_requests is not None and self.sent >= self.max_requests:
            self.exhausted_by = "max_requests"
            raise BudgetExhaustedError(f"--max-requests {self.max_requests} reached")
        estimate = (
            cost_of(self.price, request.estimated_prompt_tokens(), request.max_tokens) * self.correction
        )
        if self.max_cost is not None and self.spent + self.reserved + estimate > self.max_cost:
            self.exhausted_by = "max_cost"
            raise BudgetExhaustedError(f"--max-cost {self.max_cost:g} reached (spent ${self.spent:.4f})")
        self.sent += 1
        self.reserved += estimate
        return estimate

    def settle(self, reserved: float, prompt_tokens: int, completion_tokens: int) -> float:
        self.reserved -= reserved
        actual = cost_of(self.price, prompt_tokens, completion_tokens)
        if reserved > 0 and actual > reserved:
            self.correction *= actual / reserved
        self.spent += actual
        return actual


@dataclass(frozen=True)
class Estimate:
    """What a run would cost if no answer were cached and every request succeeded first time."""

    requests: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None

    def describe(self, model: str) -> str:
        cost = (
            "unknown (no price for this model: add one with --prices)"
            if self.cost is None
            else (f"${self.cost:.4f}")
        )
        return (
            f"dry run for {model}: {self.requests:,} requests to send ({self.cached:,} answered from the "
            f"cache), about {self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion tokens "
            f"(at most), estimated cost {cost}"
        )


def estimate(requests: Iterable[ChatRequest], cached: int, price: Price | None) -> Estimate:
    """Upper estimate: prompts by the 4-bytes-per-token rule, answers at `max_tokens`."""
    items = list(requests)
    prompt = sum(r.estimated_prompt_tokens() for r in items)
    completion = sum(r.max_tokens for r in items)
    cost = cost_of(price, prompt, completion) if price is not None else None
    return Estimate(len(items), cached, prompt, completion, cost)
