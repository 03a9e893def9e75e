"""The pairwise judge `curata compare --judge llm` uses: one question per call, "which answer is
better, A or B?" (the caller asks both orders and keeps only preferences that survive the swap).
Configured from the environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `CURATA_JUDGE_MODEL`)."""

from __future__ import annotations

import os
from collections.abc import Callable

from curata.llm.config import LLMSettings
from curata.llm.judge import pair_messages, parse_winner
from curata.llm.request import ChatRequest
from curata.llm.session import open_client, run_with_client

PairwiseJudge = Callable[[str, str, str], str]
VERDICTS = {"A": "a", "B": "b", "tie": "tie"}


def make_pairwise_judge(settings: LLMSettings | None = None) -> PairwiseJudge:
    """A function (prompt, answer_a, answer_b) -> 'a' | 'b' | 'tie' (an unreadable reply is a tie)."""
    chosen = settings or LLMSettings(model=os.environ.get("CURATA_JUDGE_MODEL"))

    def judge(prompt: str, answer_a: str, answer_b: str) -> str:
        client = open_client(chosen, None)  # run_with_client closes it after the call
        request = ChatRequest.of(pair_messages(prompt, answer_a, answer_b), max_tokens=256, tag="pairwise")
        reply = run_with_client(client, lambda c: c.complete(request))
        return VERDICTS.get(parse_winner(reply.text) or "", "tie")

    return judge
