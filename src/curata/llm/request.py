"""What is sent to a model and what comes back; the cache key is a hash of model, messages and
parameters, so any change to a prompt or a setting is a new request and nothing else is."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completion request. `tag` says what it is for (judge, repair...) and is not hashed."""

    messages: tuple[tuple[str, str], ...]
    max_tokens: int = 512
    temperature: float = 0.0
    tag: str = field(default="", compare=False)
    # Score-by-probabilities: ask for the next-token probabilities of these strings instead of an
    # answer (in-process backend only); a final assistant message is a prefix to continue.
    choices: tuple[str, ...] = ()

    @staticmethod
    def of(
        messages: list[dict[str, str]] | list[tuple[str, str]],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        tag: str = "",
        choices: tuple[str, ...] = (),
    ) -> ChatRequest:
        pairs = tuple((m["role"], m["content"]) if isinstance(m, dict) else (m[0], m[1]) for m in messages)
        return ChatRequest(pairs, max_tokens, temperature, tag, choices)

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.choices:  # only when set, so the keys of every earlier answer stay valid
            params["choices"] = list(self.choices)
        return params

    def cache_key(self, model: str) -> str:
        body = {"model": model, "messages": self.message_dicts(), "params": self.params()}
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def estimated_prompt_tokens(self) -> int:
        return estimate_tokens("".join(content for _, content in self.messages)) + 4 * len(self.messages)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False


def estimate_tokens(text: str) -> int:
    """About four UTF-8 bytes per token: close enough for budgets and dry runs."""
    return max(1, len(text.encode("utf-8")) // 4)
