"""Judges for tests: plain functions with the pairwise interface."""

from __future__ import annotations


def longer(prompt: str, answer_a: str, answer_b: str) -> str:
    """Prefers the longer answer; a deterministic stand-in for an LLM judge."""
    if len(answer_a) == len(answer_b):
        return "tie"
    return "a" if len(answer_a) > len(answer_b) else "b"
