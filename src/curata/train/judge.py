"""The pairwise judge `curata compare` asks which of two answers is better.

The interface is one function, `(prompt, answer_a, answer_b) -> "a" | "b" | "tie"`, so any judge
fits: a function named as `module:function`, or curata's LLM judge when `curata.llm` provides a
pairwise judge. Each pair is asked in both orders and counts as a win only when both agree, which
cancels the position bias LLM judges are known for (Zheng et al. 2023, MT-Bench).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from curata.errors import CurataError

Verdict = Literal["a", "b", "tie"]
PairwiseJudge = Callable[[str, str, str], str]

LLM_JUDGE = "llm"


def load_judge(spec: str | None) -> tuple[PairwiseJudge | None, str]:
    """The judge named by `spec`, or None with the reason it is skipped."""
    if not spec:
        return None, "no judge configured (--judge module:function or --judge llm); win rate skipped"
    if spec == LLM_JUDGE:
        try:
            module = importlib.import_module("curata.llm.pairwise")
        except ImportError:
            return None, "curata.llm offers no pairwise judge in this installation; win rate skipped"
        factory = getattr(module, "make_pairwise_judge", None)
        if factory is None:
            return None, "curata.llm.pairwise has no make_pairwise_judge(); win rate skipped"
        return factory(), "curata.llm pairwise judge"
    module_name, _, name = spec.partition(":")
    if not name:
        raise CurataError(f"--judge must be 'llm' or 'module:function', not '{spec}'")
    try:
        judge = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise CurataError(f"cannot load the judge '{spec}': {exc}") from None
    if not callable(judge):
        raise CurataError(f"the judge '{spec}' is not callable")
    return judge, spec


@dataclass
class WinRate:
    wins: int
    losses: int
    ties: int

    @property
    def rate(self) -> float:
        """Wins of B (curated) over A (raw), ties counting half."""
        total = self.wins + self.losses + self.ties
        return (self.wins + 0.5 * self.ties) / total if total else float("nan")


def verdict(judge: PairwiseJudge, prompt: str, a: str, b: str) -> Verdict:
    first = str(judge(prompt, a, b)).lower()
    second = str(judge(prompt, b, a)).lower()
    if first == "b" and second == "a":
        return "b"
    if first == "a" and second == "b":
        return "a"
    return "tie"


def win_rate(
    judge: PairwiseJudge, prompts: Sequence[str], answers_a: Sequence[str], answers_b: Sequence[str]
) -> WinRate:
    verdicts = [verdict(judge, p, a, b) for p, a, b in zip(prompts, answers_a, answers_b, strict=True)]
    return WinRate(verdicts.count("b"), verdicts.count("a"), verdicts.count("tie"))
