"""Rewriting answers to a target format, and checking the result against a small declarative spec.

A spec is data, not prose: `json_keys` (the answer is a JSON object with these keys), `regex` (the
answer matches), `ends_with` (the answer's end matches this regex, e.g. `Answer: [A-D]`). An
answer that already passes is left alone; one that still fails after the rewrite (and one more
try that names the problems) is flagged `rewrite_failed`, never silently kept as if fixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from curata.llm.budget import BudgetExhaustedError
from curata.llm.client import LLMClient
from curata.llm.request import ChatRequest
from curata.llm.retry import RequestFailedError
from curata.llm.rubric import render_conversation
from curata.records import Record, Role, Turn

PROMPT_ID = "rewrite-v1"
FENCED = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


class FormatSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    json_keys: list[str] | None = Field(default=None, min_length=1)
    regex: str | None = None
    ends_with: str | None = None
    # Free-text guidance for the model, added to what the rules above say.
    description: str = ""

    @field_validator("regex", "ends_with")
    @classmethod
    def compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def has_a_rule(self) -> FormatSpec:
        if not (self.json_keys or self.regex or self.ends_with):
            raise ValueError("a format spec needs at least one of json_keys, regex, ends_with")
        return self

    def problems(self, text: str) -> list[str]:
        """What is wrong with `text` under this spec (empty when it passes)."""
        found: list[str] = []
        if self.json_keys:
            try:
                value = json.loads(text)
            except ValueError:
                found.append("is not a JSON object")
            else:
                if not isinstance(value, dict):
                    found.append("is not a JSON object")
                else:
                    missing = [k for k in self.json_keys if k not in value]
                    if missing:
                        found.append(f"lacks the key(s) {', '.join(missing)}")
        if self.regex and not re.search(self.regex, text, re.DOTALL):
            found.append(f"does not match /{self.regex}/")
        if self.ends_with and not re.search(f"(?:{self.ends_with})\\s*$", text):
            found.append(f"does not end with /{self.ends_with}/")
        return found

    def describe(self) -> str:
        rules = []
        if self.json_keys:
            keys = ", ".join(f'"{k}"' for k in self.json_keys)
            rules.append(f"- the whole answer is one JSON object with the keys {keys}, and nothing else")
        if self.regex:
            rules.append(f"- the answer matches the regular expression {self.regex}")
        if self.ends_with:
            rules.append(f"- the answer ends with text matching the regular expression {self.ends_with}")
        if self.description.strip():
            rules.append(f"- {self.description.strip()}")
        return "\n".join(rules)


def clean_reply(text: str) -> str:
    """Drop a code fence around the whole reply: models add them to JSON uninvited."""
    match = FENCED.match(text)
    return (match.group(1) if match else text).strip()


def rewrite_messages(
    spec: FormatSpec, record: Record, answer: str, problems: list[str]
) -> list[dict[str, str]]:
    context = render_conversation(record.turns[:-1]) if record.turns else ""
    feedback = f"\n\nThe answer currently {'; '.join(problems)}." if problems else ""
    return [
        {
            "role": "system",
            "content": "You rewrite assistant answers into a required format without changing "
            "their content or meaning. You reply with the rewritten answer only.",
        },
        {
            "role": "user",
            "content": f"Required format:\n{spec.describe()}{feedback}\n\n"
            f"The conversation so far:\n\n{context}\n\n### ANSWER TO REWRITE\n{answer}\n\n"
            "Reply with only the rewritten answer.",
        },
    ]


Status = Literal["unchanged", "rewritten", "failed", "not_done"]


@dataclass
class RewriteResult:
    status: Status
    text: str | None = None
    problems: list[str] = field(default_factory=list)
    attempts: int = 0


def last_answer_index(record: Record) -> int | None:
    for i in range(len(record.turns) - 1, -1, -1):
        if record.turns[i].role is Role.ASSISTANT:
            return i
    return None


def with_answer(record: Record, text: str) -> tuple[Turn, ...]:
    index = last_answer_index(record)
    turns = list(record.turns)
    if index is None:
        turns.append(Turn(Role.ASSISTANT, text))
    else:
        turns[index] = Turn(Role.ASSISTANT, text)
    return tuple(turns)


class Rewriter:
    def __init__(self, client: LLMClient, spec: FormatSpec, tries: int = 2, max_tokens: int = 1024) -> None:
        self.client = client
        self.spec = spec
        self.tries = tries
        self.max_tokens = max_tokens

    def first_requests(self, records: Sequence[Record]) -> list[ChatRequest]:
        """The first try for every answer that breaks the spec: for dry runs."""
        return [
            ChatRequest.of(
                rewrite_messages(self.spec, r, r.last_response, []), max_tokens=self.max_tokens, tag="rewrite"
            )
            for r in records
            if self.spec.problems(r.last_response)
        ]

    async def rewrite(self, record: Record) -> RewriteResult:
        answer = record.last_response
        problems = self.spec.problems(answer)
        if not problems:
            return RewriteResult("unchanged")
        current, remaining = answer, problems
        attempt = 0
        try:
            for attempt in range(1, self.tries + 1):
                messages = rewrite_messages(self.spec, record, answer, remaining if attempt > 1 else [])
                if attempt > 1:
                    messages[1]["content"] += f"\n\nYour previous attempt was:\n{current}"
                reply = await self.client.complete(
                    ChatRequest.of(messages, max_tokens=self.max_tokens, tag="rewrite")
                )
                current = clean_reply(reply.text)
                remaining = self.spec.problems(current)
                if not remaining:
                    return RewriteResult("rewritten", current, [], attempt)
        except BudgetExhaustedError as exc:
            return RewriteResult("not_done", None, [str(exc)], attempt)
        except RequestFailedError as exc:
            return RewriteResult("failed", None, [f"request failed: {exc}"], attempt)
        return RewriteResult("failed", current, remaining, attempt)
