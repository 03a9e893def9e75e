"""LLM-as-judge: rubric scores per record, and pairwise comparison in both orders.

A reply that cannot be read gets one repair request; if that fails too the record stays unscored
with the raw reply kept. A failed request or a reached budget leaves the record unscored with the
reason; only a fatal error (bad key, no server) stops the batch.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from curata.errors import CurataError
from curata.llm import geval
from curata.llm.budget import BudgetExhaustedError
from curata.llm.client import LLMClient
from curata.llm.parsing import parse_json_object
from curata.llm.request import ChatRequest
from curata.llm.retry import RequestFailedError
from curata.llm.rubric import Rubric, judge_messages, parse_verdict, repair_messages
from curata.records import Record

Status = Literal["scored", "unparseable", "failed", "not_judged"]
# How the judge asks: `json` for a verdict object, `probabilities` for the next-token
# probabilities of each score digit (in-process models); `auto` picks probabilities for them.
JudgeMethod = Literal["auto", "json", "probabilities"]


@dataclass
class JudgeResult:
    """One record's verdict. `score` is in [0, 1] (None when unscored); `scores` on the rubric scale."""

    status: Status
    score: float | None = None
    scores: dict[str, float] = field(default_factory=dict)
    rationale: str = ""
    raw: str | None = None
    repaired: bool = False
    # Score-by-probabilities only: the most likely digit per criterion (`scores` holds the
    # expected values).
    argmax: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "judge_score": self.score, "scores": self.scores}
        if self.argmax:
            out["argmax"] = self.argmax
        if self.rationale:
            out["rationale"] = self.rationale
        if self.raw is not None:
            out["judge_raw"] = self.raw
        if self.repaired:
            out["repaired"] = True
        return out


class Judge:
    def __init__(
        self,
        client: LLMClient,
        rubric: Rubric,
        repair: bool = True,
        max_tokens: int = 256,
        temperature: float | None = None,
        method: JudgeMethod = "auto",
    ) -> None:
        self.client = client
        self.method = resolve_method(method, client, rubric)
        # None: the endpoint's setting; generation passes 0 so sampling new data never makes
        # its judge random.
        self.temperature = client.settings.temperature if temperature is None else temperature
        self.rubric = rubric
        self.repair = repair
        self.max_tokens = max_tokens

    def request(self, messages: list[dict[str, str]], tag: str) -> ChatRequest:
        return ChatRequest.of(messages, max_tokens=self.max_tokens, temperature=self.temperature, tag=tag)

    def first_requests(self, records: Sequence[Record]) -> list[ChatRequest]:
        """What a run sends before any repair: for dry runs."""
        if self.method == "probabilities":
            return [geval.criterion_request(self.rubric, r, c) for r in records for c in self.rubric.criteria]
        return [self.request(judge_messages(self.rubric, r), "judge") for r in records]

    async def judge(self, record: Record) -> JudgeResult:
        if self.method == "probabilities":
            return await self.judge_by_probabilities(record)
        messages = judge_messages(self.rubric, record)
        try:
            reply = (await self.client.complete(self.request(messages, "judge"))).text
            verdict = parse_verdict(self.rubric, reply)
            repaired = False
            if verdict is None and self.repair:
                fixed = await self.client.complete(
                    self.request(repair_messages(self.rubric, messages, reply), "repair")
                )
                verdict = parse_verdict(self.rubric, fixed.text)
                repaired = verdict is not None
                if verdict is None:
                    reply = f"{reply}\n--- after the repair request ---\n{fixed.text}"
        except BudgetExhaustedError as exc:
            return JudgeResult("not_judged", raw=f"not judged: {exc}")
        except RequestFailedError as exc:
            return JudgeResult("failed", raw=f"request failed: {exc}")
        if verdict is None:
            return JudgeResult("unparseable", raw=reply)
        return JudgeResult(
            "scored",
            self.rubric.normalised(verdict.scores),
            verdict.scores,
            verdict.rationale,
            None,
            repaired,
        )

    async def judge_by_probabilities(self, record: Record) -> JudgeResult:
        """One request per criterion, read as digit probabilities; nothing free-form to parse."""
        criteria = self.rubric.criteria
        try:
            # One after another: an in-process model runs one request at a time anyway, and a
            # budget reached half-way through a record stops at a clear point.
            replies = [
                await self.client.complete(geval.criterion_request(self.rubric, record, c)) for c in criteria
            ]
        except BudgetExhaustedError as exc:
            return JudgeResult("not_judged", raw=f"not judged: {exc}")
        except RequestFailedError as exc:
            return JudgeResult("failed", raw=f"request failed: {exc}")
        read = [geval.read_probabilities(self.rubric, r.text) for r in replies]
        if any(d is None for d in read):
            return JudgeResult("unparseable", raw="\n".join(r.text for r in replies))
        digits = {c.name: d for c, d in zip(criteria, read, strict=True) if d is not None}
        expected = {name: round(d.expected, 4) for name, d in digits.items()}
        mass = min(d.mass for d in digits.values())
        return JudgeResult(
            "scored",
            self.rubric.normalised(expected),
            expected,
            f"expected scores from next-token probabilities (lowest digit mass {mass:.2f})",
            argmax={name: d.argmax for name, d in digits.items()},
        )

    async def judge_all(
        self, records: Sequence[Record], progress: Callable[[int], None] | None = None
    ) -> list[JudgeResult]:
        async def one(record: Record) -> JudgeResult:
            result = await self.judge(record)
            if progress is not None:
                progress(1)
            return result

        return await self.client.map(one(r) for r in records)


def resolve_method(method: JudgeMethod, client: LLMClient, rubric: Rubric) -> JudgeMethod:
    """`auto`: token probabilities for an in-process model (it rarely writes a readable verdict
    but its logits are at hand), JSON verdicts for an endpoint."""
    if method == "auto":
        local = client.settings.backend == "transformers"
        return "probabilities" if local and geval.supports(rubric) else "json"
    if method == "probabilities" and not geval.supports(rubric):
        raise CurataError("judging by probabilities needs a rubric scale of single digits (0-9)")
    return method


PAIR_PROMPT_ID = "judge-pairwise-v1"
BRACKETED = re.compile(r"\[\[\s*(A|B|tie)\s*\]\]", re.IGNORECASE)
WINNER_WORD = re.compile(
    r"(?:winner|better(?: answer)?)\W{0,3}(?:is\s+)?[:=\-]?\s*\**\s*(?:answer\s+)?(A|B|tie)\b", re.IGNORECASE
)


def pair_messages(prompt: str, first: str, second: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "You compare two answers to the same request and say which is better. "
            "Reply with one JSON object and nothing else.",
        },
        {
            "role": "user",
            "content": f"Request:\n{prompt}\n\n### Answer A\n{first}\n\n### Answer B\n{second}\n\n"
            'Which answer is better? Reply with only: {"winner": "A" | "B" | "tie", "rationale": "..."}',
        },
    ]


def parse_winner(text: str) -> str | None:
    obj = parse_json_object(text)
    if obj is not None:
        value = str(obj.get("winner", "")).strip().strip("[]").upper()
        if value in ("A", "B"):
            return value
        if value == "TIE":
            return "tie"
    match = BRACKETED.search(text) or WINNER_WORD.search(text)
    if match:
        word = match.group(1)
        return "tie" if word.lower() == "tie" else word.upper()
    return None


@dataclass(frozen=True)
class PairResult:
    """`winner` is 'a', 'b' or 'tie' after both orders; `consistent` is False when the two orders
    disagree (position bias), which counts as a tie."""

    winner: str
    consistent: bool
    first_order: str | None
    second_order: str | None


async def compare(client: LLMClient, prompt: str, answer_a: str, answer_b: str) -> PairResult:
    """Ask with A first, then with B first; a preference must survive the swap to count."""

    def ask(first: str, second: str) -> ChatRequest:
        return ChatRequest.of(pair_messages(prompt, first, second), max_tokens=256, tag="pairwise")

    replies = await asyncio.gather(
        client.complete(ask(answer_a, answer_b)), client.complete(ask(answer_b, answer_a))
    )
    forward = parse_winner(replies[0].text)
    backward = parse_winner(replies[1].text)
    swapped = {"A": "B", "B": "A", "tie": "tie"}.get(backward or "")
    as_ab = {"A": "a", "B": "b", "tie": "tie"}
    if forward is None or swapped is None:
        return PairResult("tie", False, forward, backward)
    if forward == swapped:
        return PairResult(as_ab[forward], True, forward, backward)
    return PairResult("tie", False, forward, backward)
